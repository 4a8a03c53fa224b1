@echo off
rem 安居 anju {{VERSION}}: offline install on Windows from this folder alone.
rem Usage: install.bat [TARGET_DIR]   (default: %USERPROFILE%\anju)
rem Creates TARGET_DIR\venv with Python 3.11 and installs anju from .\wheels, index switched off.
chcp 65001 >nul
setlocal
set "HERE=%~dp0"
set "TARGET=%~1"
if "%TARGET%"=="" set "TARGET=%USERPROFILE%\anju"

rem Only this folder: no index, and no pip.ini of the machine adding other sources.
set "PIP_NO_INDEX=1"
set "PIP_CONFIG_FILE=NUL"
set "PIP_FIND_LINKS="
set "PIP_DISABLE_PIP_VERSION_CHECK=1"

set "PY="
py -3.11 -c "import sys" >nul 2>nul
if not errorlevel 1 set "PY=py -3.11"
if not defined PY (
  python -c "import sys; sys.exit(sys.version_info[:2] != (3, 11))" >nul 2>nul
  if not errorlevel 1 set "PY=python"
)
if not defined PY (
  echo 需要 Python 3.11 / Python 3.11 is required. Install python-3.11 for Windows x64 first.
  exit /b 1
)

if not exist "%TARGET%" mkdir "%TARGET%"
if not exist "%TARGET%\venv\Scripts\python.exe" (
  %PY% -m venv "%TARGET%\venv"
  if errorlevel 1 goto fail
)
"%TARGET%\venv\Scripts\python.exe" -m pip install --no-index --find-links "%HERE%wheels" "anju=={{VERSION}}"
if errorlevel 1 goto fail
"%TARGET%\venv\Scripts\anju.exe" --version
if errorlevel 1 goto fail

rem A short launcher beside the venv: anju.bat collect laptop.db
> "%TARGET%\anju.bat" echo @"%%~dp0venv\Scripts\anju.exe" %%*

echo.
echo 安装完成 / installed: %TARGET%\anju.bat
echo 下一步 / next:  "%TARGET%\anju.bat" init "%TARGET%\laptop.db" --enroll anju-enrol-笔记本名称.json
echo                "%TARGET%\anju.bat" collect "%TARGET%\laptop.db"
exit /b 0

:fail
echo 安装失败，请把上面的信息发给项目办公室 / install failed, send the lines above to the office.
exit /b 1
