"""Merge and import results in words a clerk reads: one Chinese sentence per pack.

Built from the structured PackResult (its `code`, `params`, counts, `raised` conflicts and
`survey` outcome), never from the English line the command prints. A refusal says what
happened and what to do next; the web page and anything else that shows results to people in
Chinese uses these functions.
"""

from __future__ import annotations

from anju.registry.core.definition import Definition
from anju.registry.sync.merge import PackResult

# Why a pack was refused, and what to do about it. {device}, {size}, {project} ... come from
# the result's params; a missing detail reads as "?" rather than failing.
REASONS: dict[str, str] = {
    "not_pack": "这不是安居数据包（可能选错了文件）。"
                "请选择以 .pack 结尾、由安居“导出数据包”生成的文件。",
    "empty": "文件是空的，不是数据包。请在原设备上重新导出后再复制。",
    "unreadable": "无法读取这个文件。请重新插好U盘，再选择一次文件。",
    "no_folder": "目标文件夹不存在。请选择一个存在的文件夹。",
    "truncated": "数据包不完整（只有 {size} 字节），可能是复制没有完成就拔出了U盘。"
                 "请在原设备上重新导出，等复制完成后再拔U盘。",
    "damaged": "数据包已损坏或被改动过。请在原设备上重新导出，再复制一次。",
    "malformed": "数据包内容格式异常，已拒收。请在原设备上重新导出；仍不行请联系技术支持。",
    "wrong_key": "无法解密：这个数据包不是用本机的密钥加密的（可能来自其他项目或测试环境）。",
    "signature": "签名校验失败：文件被改动过，或不是设备“{device}”生成的。请在该设备上重新导出。",
    "newer": "这个数据包由更新版本的安居生成。请先把本机的安居升级到最新版本，再导入。",
    "older": "这个数据包由旧版本的安居生成（用项目公共密钥加密，已不再接受）。"
             "请先升级生成它的设备上的安居，再重新导出。",
    "not_recipient": "这个数据包不是发给本机的（只有指定的接收设备能解密），整包未写入。"
                     "笔记本的数据包只能由中心库导入；中心数据包只发给登记在册、未吊销的笔记本。"
                     "请让中心办公室为本机重新导出。",
    "other_project": "这个数据包属于另一个项目，不能合并到本项目（{project}）。"
                     "请确认选对了U盘上的文件。",
    "unknown_device": "数据包来自未登记的设备（{device}）。"
                      "请管理员先在“设备”页登记该设备，再导入。",
    "revoked": "数据包来自已吊销的设备“{device}”（吊销于 {at}），已拒收。如需恢复，请联系管理员。",
    "invalid": "数据包中有不符合本机调查表的记录（{what}），整包未写入。"
               "请先导入中心数据包以更新调查表，或联系技术支持。",
    "survey": "数据包中的调查表定义无法读取，整包未写入。请联系技术支持。",
    "clash": "数据包中的修改与本机已有的修改编号重复，整包未写入。请联系技术支持。",
    "refused": "数据包未能合并，整包未写入。请联系技术支持。",
}


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def reason(result: PackResult, definition: Definition | None = None) -> str:
    """Why a refused pack was refused, and what to do, in Chinese."""
    params = _Missing(result.params or {})
    if result.code == "invalid":
        params["what"] = _what(definition, params.get("record_type"), params.get("fields") or [])
    if result.code == "unknown_device":
        params["device"] = "编号 " + str(params.get("device", "?"))[:8]
    if result.code == "revoked":
        params["at"] = local_text(params.get("at"))
    text = REASONS.get(result.code) or REASONS["refused"]
    return text.format_map(params)


def sentence(result: PackResult, definition: Definition | None = None) -> str:
    """One Chinese sentence saying what merging this pack did, or why it was refused."""
    if not result.ok:
        return f"“{result.path}”被拒收：{reason(result, definition)}"
    text = (f"“{result.path}”已合并（来自 {result.device}）：新增 {result.new} 条修改，"
            f"{result.known} 条本机已有")
    if result.blobs:
        text += f"，新增 {result.blobs} 个文件"
    text += (f"，产生 {result.conflicts} 个待解决冲突。" if result.conflicts
             else "，没有产生冲突。")
    if result.survey and result.survey[0] == "adopted":
        text += f"已启用中心下发的调查表第 {result.survey[1]} 版。"
    elif result.survey and result.survey[0] == "kept":
        text += (f"本机调查表（第 {result.survey[1]} 版）比中心的（第 {result.survey[2]} 版）"
                 "新，保留本机版本。")
    return text


def total(results: list[PackResult]) -> str:
    """One closing Chinese sentence over all packs of one upload."""
    ok = [r for r in results if r.ok]
    text = (f"共 {len(results)} 个数据包，合并 {len(ok)} 个：新增 {sum(r.new for r in ok)} 条修改，"
            f"{sum(r.known for r in ok)} 条本机已有，产生 {sum(r.conflicts for r in ok)} 个冲突")
    if len(ok) < len(results):
        text += f"；{len(results) - len(ok)} 个被拒收，未写入任何内容"
    return text + "。"


def _what(definition: Definition | None, record_type, fields) -> str:
    """The record type and fields a refused change touched, by their Chinese labels."""
    if definition is None or record_type not in definition.records:
        return f"未知的记录类型 {record_type}" if record_type else "未知记录"
    rtype = definition.record(record_type)
    names = [rtype.field(f).label.get("zh") or f if rtype.has(f) else str(f) for f in fields]
    head = rtype.label.get("zh") or record_type
    return head + ("：" + "、".join(names[:5]) + ("等" if len(names) > 5 else "") if names
                   else "")


def local_text(stamp) -> str:
    """A stored UTC time as local time text (see registry.core.localtime)."""
    from anju.registry.core.localtime import format_local
    return format_local(stamp) if stamp else "?"
