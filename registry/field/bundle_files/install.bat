@echo off
rem anju {{VERSION}}: offline install on Windows from this folder alone.
rem This file is ASCII on purpose: cmd.exe misreads multi-byte text in some code pages.
rem The Chinese instructions are in README.txt.
rem Usage: install.bat [TARGET_DIR]   (default: %USERPROFILE%\anju)
rem Creates TARGET_DIR\venv with Python 3.11 and installs anju from .\wheels, index switched off.
chcp 65001 >nul
setlocal
set "HERE=%~dp0"
set "TARGET=%~1"
if "%TARGET%"=="" set "TARGET=%USERPROFILE%\anju"

rem Only this folder: no index, and no pip.ini of the machine adding other sources
rem ("nul" in lower case: pip skips every config file only when it equals os.devnull).
set "PIP_NO_INDEX=1"
set "PIP_CONFIG_FILE=nul"
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
  echo Python 3.11 is required. Install Python 3.11 for Windows x64 first, see README.txt.
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
echo Installed: %TARGET%\anju.bat
echo Next:  "%TARGET%\anju.bat" init "%TARGET%\laptop.db" --enroll anju-enrol-NAME.json
echo        "%TARGET%\anju.bat" collect "%TARGET%\laptop.db"
exit /b 0

:fail
echo Install failed: send the lines above to the project office.
exit /b 1
