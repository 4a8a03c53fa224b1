"""Writes the XLSForm fixtures of tests/test_xlsform.py (run it to regenerate them):

- household_kobo.xlsx: a household survey the way KoboToolbox users write one, after the
  public XLSForm documentation (xlsform.org): `label::English (en)` / `label::Chinese (zh)`,
  start/end metadata, groups, a members repeat, a visits repeat, constraint messages, a note;
  no anju column at all.
- household_zh.xlsx: a Chinese-first form with `label::zh` / `label::en`, numeric choice names,
  and anju's own columns (publish, validator, precision, record, record_label, standalone).
- household_unsupported.xlsx: one construct anju refuses per row (the test names each row).
"""

from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def write(path: Path, survey: list[list], choices: list[list], settings: list[list]) -> None:
    wb = Workbook()
    for title, rows in (("survey", survey), ("choices", choices), ("settings", settings)):
        ws = wb.active if title == "survey" else wb.create_sheet(title)
        ws.title = title
        for row in rows:
            ws.append(row)
    wb.save(path)


KOBO_COLUMNS = ["type", "name", "label::English (en)", "label::Chinese (zh)",
                "hint::English (en)", "hint::Chinese (zh)", "required", "relevant", "constraint",
                "constraint_message::English (en)", "appearance"]


def kobo() -> None:
    aliases = {"cmsg_en": "constraint_message::English (en)", "hint_en": "hint::English (en)",
               "hint_zh": "hint::Chinese (zh)"}

    def q(type_, name, en=None, zh=None, **kw):
        row = {"type": type_, "name": name, "label::English (en)": en,
               "label::Chinese (zh)": zh, **{aliases.get(k, k): v for k, v in kw.items()}}
        return [row.get(c) for c in KOBO_COLUMNS]
    survey = [KOBO_COLUMNS,
              q("start", "start"),                                                      # 2
              q("end", "end"),
              q("today", "today"),
              q("deviceid", "deviceid"),                                                # 5
              q("begin_group", "house", "The house", "房屋情况"),
              q("text", "house_no", "House number", "房屋编号", required="yes",
                constraint="regex(., '^[A-Z]-[0-9]{4}$')",
                cmsg_en="Like A-0001"),
              q("text", "zone", "Zone", "片区", required="yes", appearance="minimal"),
              q("text", "address", "Address", "坐落", required="yes",
                constraint="string-length(.) <= 200"),
              q("select_one structure", "structure", "Structure", "房屋结构"),          # 10
              q("integer", "floors", "Floors", "层数", constraint=". >= 1 and . <= 60"),
              q("integer", "year_built", "Year built", "建成年份",
                constraint=". >= 1900 and . <= 2100"),
              q("decimal", "surveyed_area", "Surveyed area (m²)", "测绘面积(㎡)",
                constraint=". >= 0", hint_en="As measured", hint_zh="按实测"),
              q("geopoint", "location", "GPS point", "GPS位置"),
              q("image", "house_photo", "Photo of the house", "房屋照片"),               # 15
              q("end_group", None),
              q("begin_group", "owner", "The owner", "产权人"),
              q("text", "owner_name", "Owner name", "产权人姓名", required="yes"),
              q("text", "owner_id_no", "Owner resident ID", "产权人身份证号",
                constraint="regex(., '^[0-9]{17}[0-9X]$')"),
              q("text", "owner_phone", "Phone", "联系电话",                              # 20
                constraint="regex(., '^1[0-9]{10}$')"),
              q("integer", "resident_count", "Residents", "常住人口", constraint=". >= 0"),
              q("end_group", None),
              q("begin_repeat", "members", "Household members", "家庭成员"),
              q("text", "name", "Name", "姓名", required="yes"),
              q("select_one relation", "relation", "Relation to head", "与户主关系",       # 25
                required="yes"),
              q("integer", "age", "Age", "年龄", constraint=". >= 0 and . <= 120"),
              q("select_one yes_no", "working", "Working?", "是否就业",
                relevant="${age} > 15"),
              q("end_repeat", None),
              q("begin_group", "wishes", "Wishes", "安置意愿"),
              q("select_one mode", "compensation_mode", "Preferred compensation",          # 30
                "补偿方式意愿"),
              q("integer", "preferred_flat_size", "Preferred flat size (m²)", "意向户型(㎡)",
                relevant="${compensation_mode} = 'swap'",
                constraint=". >= 20 and . <= 300"),
              q("select_multiple hardship", "hardship", "Hardship", "困难类型"),
              q("select_one grade", "disability_grade", "Disability grade", "残疾等级",
                required="yes", relevant="selected(${hardship}, 'disability')"),
              q("text", "comments", "Comments", "意见建议", appearance="multiline"),
              q("end_group", None),                                                     # 35
              q("begin_repeat", "visits", "Visits", "走访记录"),
              q("date", "visit_date", "Date", "走访日期", required="yes"),
              q("select_one outcome", "outcome", "Outcome", "结果", required="yes"),
              q("text", "note", "Note", "备注"),
              q("end_repeat", None),                                                    # 40
              q("note", "thanks", "Thank you", "谢谢"),
              ]
    choices = [["list_name", "name", "label::English (en)", "label::Chinese (zh)"],
               ["structure", "steel_concrete", "Reinforced concrete", "钢混"],
               ["structure", "brick_concrete", "Brick and concrete", "砖混"],
               ["structure", "brick_wood", "Brick and wood", "砖木"],
               ["structure", "simple", "Simple", "简易"],
               ["relation", "head", "Head", "户主"],
               ["relation", "spouse", "Spouse", "配偶"],
               ["relation", "child", "Child", "子女"],
               ["relation", "parent", "Parent", "父母"],
               ["relation", "other", "Other", "其他"],
               ["yes_no", "yes", "Yes", "是"],
               ["yes_no", "no", "No", "否"],
               ["mode", "money", "Money", "货币补偿"],
               ["mode", "swap", "Flat swap", "产权调换"],
               ["hardship", "dibao", "Minimum living allowance", "低保"],
               ["hardship", "disability", "Disability", "残疾"],
               ["hardship", "elderly_alone", "Elderly living alone", "独居老人"],
               ["grade", 1, "Grade 1", "一级"],
               ["grade", 2, "Grade 2", "二级"],
               ["grade", 3, "Grade 3", "三级"],
               ["grade", 4, "Grade 4", "四级"],
               ["outcome", "surveyed", "Surveyed", "已调查"],
               ["outcome", "not_home", "Not at home", "不在家"],
               ["outcome", "refused", "Refused", "拒绝"]]
    settings = [["form_title", "form_id", "version", "default_language"],
                ["Household survey", "kobo_household", "vHxT2fKq9", "English (en)"]]
    write(HERE / "household_kobo.xlsx", survey, choices, settings)


ZH_COLUMNS = ["type", "name", "label::zh", "label::en", "hint::zh", "hint::en", "required",
              "relevant", "constraint", "constraint_message::zh", "default", "publish",
              "validator", "precision", "record", "record_label::zh", "record_label::en",
              "standalone"]


def zh() -> None:
    def q(type_, name, zh_=None, en=None, **kw):
        row = {"type": type_, "name": name, "label::zh": zh_, "label::en": en,
               **{k.replace("__", "::"): v for k, v in kw.items()}}
        return [row.get(c) for c in ZH_COLUMNS]
    survey = [ZH_COLUMNS,
              q("begin_group", "house", "房屋", "House"),                               # 2
              q("text", "house_no", "房屋编号", "House number", required="TRUE()",
                constraint="string-length(.) <= 24", publish="plain",
                constraint_message__zh="最多24个字符"),
              q("text", "zone", "片区", "Zone", required="yes", publish="plain"),
              q("text", "address", "坐落", "Address", required="yes", publish="plain"),
              q("select_one land", "land_type", "土地性质", "Land type", publish="plain"),  # 6
              q("decimal", "cert_area", "证载面积(㎡)", "Certificate area (m²)", precision=1,
                constraint="0 <= . and . <= 100000", publish="plain"),
              q("integer", "rooms", "间数", "Rooms", default=1, constraint=". > 0",
                hint__zh="含厨房", hint__en="Kitchen included"),
              q("end_group", None),
              q("begin_group", "owner", "产权人", "Owner"),                             # 10
              q("text", "owner_name", "产权人姓名", "Owner name", required="yes",
                validator="person_name", publish="masked"),
              q("text", "owner_id_no", "产权人身份证号", "Owner resident ID",
                validator="resident_id"),
              q("phone", "owner_phone", "联系电话", "Phone"),
              q("select_multiple hardship", "hardship", "困难类型", "Hardship",
                publish="total"),
              q("select_one grade", "disability_grade", "残疾等级", "Disability grade",   # 15
                relevant="selected(${hardship}, '3')"),
              q("select_one mode", "compensation_mode", "补偿方式意愿", "Preferred mode",
                publish="total"),
              q("integer", "preferred_flat_size", "意向户型(㎡)", "Preferred flat (m²)",
                relevant="${compensation_mode} = 'swap'"),
              q("text", "bank", "开户银行", "Bank",
                relevant="${compensation_mode} = 'money' or ${compensation_mode} = 'swap'"),
              q("end_group", None),
              q("begin_repeat", "members", "家庭成员", "Members", record="member",          # 20
                record_label__zh="成员", record_label__en="Member"),
              q("text", "name", "姓名", "Name", required="yes", validator="person_name"),
              q("text", "id_no", "身份证号", "Resident ID", required="yes",
                validator="resident_id"),
              q("select_one relation", "relation", "与户主关系", "Relation", required="yes"),
              q("date", "registered_on", "迁入本址日期", "Registered on"),
              q("integer", "age", "年龄", "Age"),                                      # 25
              q("select_one yn", "working", "是否就业", "Working", relevant="${age} > 16"),
              q("end_repeat", None),
              q("begin_repeat", "visit", "走访记录", "Visit", record="visit",
                standalone="yes"),
              q("date", "visit_date", "走访日期", "Date", required="yes"),
              q("text", "surveyor", "调查员", "Surveyor"),                             # 30
              q("select_one outcome", "outcome", "结果", "Outcome", required="yes"),
              q("text", "note", "备注", "Note"),
              q("end_repeat", None),
              q("begin_group", "workflow", "工作进度", "Workflow"),
              q("select_one status", "status", "状态", "Status", default="unsurveyed",  # 35
                publish="plain"),
              q("text", "cadre", "包户干部", "Cadre"),
              q("end_group", None)]
    choices = [["list_name", "name", "label::zh", "label::en"],
               ["land", "state", "国有", "State-owned"],
               ["land", "collective", "集体", "Collective"],
               ["hardship", 1, "低保", "Minimum living allowance"],
               ["hardship", 2, "特困", "Extreme poverty"],
               ["hardship", 3, "残疾", "Disability"],
               ["grade", 1, "一级", "Grade 1"],
               ["grade", 2, "二级", "Grade 2"],
               ["mode", "money", "货币补偿", "Money"],
               ["mode", "swap", "产权调换", "Flat swap"],
               ["relation", "head", "户主", "Head"],
               ["relation", "spouse", "配偶", "Spouse"],
               ["relation", "child", "子女", "Child"],
               ["yn", "yes", "是", "Yes"],
               ["yn", "no", "否", "No"],
               ["outcome", "surveyed", "已调查", "Surveyed"],
               ["outcome", "not_home", "不在家", "Not at home"],
               ["outcome", "refused", "拒绝", "Refused"]]
    for value, zh_label, en_label in [
            ("unsurveyed", "未调查", "Not surveyed"), ("surveyed", "已登记", "Surveyed"),
            ("published", "已公示", "Survey published"), ("valued", "已评估", "Valued"),
            ("signed", "已签约", "Agreement signed"), ("handed_over", "已交房", "Handed over"),
            ("demolished", "已拆除", "Demolished"), ("disputed", "异议中", "Disputed"),
            ("decision", "补偿决定", "Compensation decision")]:
        choices.append(["status", value, zh_label, en_label])
    settings = [["form_title", "form_title_en", "form_id", "version"],
                ["棚户区入户调查", "Shantytown household survey", "shanty_zh", 3]]
    write(HERE / "household_zh.xlsx", survey, choices, settings)


UNSUPPORTED_COLUMNS = ["type", "name", "label", "required", "relevant", "constraint",
                       "calculation", "choice_filter", "repeat_count"]
# (row, column) of each construct anju refuses in household_unsupported.xlsx
UNSUPPORTED = {(3, "type"), (4, "type"), (5, "relevant"), (6, "constraint"), (7, "required"),
               (8, "choice_filter"), (9, "name"), (11, "type"), (15, "repeat_count"),
               (17, "relevant"), (18, "type"), (22, "type"), (23, "type"), (24, "constraint"),
               (25, "name")}


def unsupported() -> None:
    def q(type_, name, label=None, **kw):
        row = {"type": type_, "name": name, "label": label, **kw}
        return [row.get(c) for c in UNSUPPORTED_COLUMNS]
    survey = [UNSUPPORTED_COLUMNS,
              q("text", "house_no", "房屋编号"),                                        # 2
              q("calculate", "total_area", calculation="${a} + ${b}"),
              q("time", "visit_time", "走访时间"),
              q("integer", "a", "甲", relevant="${house_no} = 'x' and ${b} > 3"),
              q("integer", "b", "乙", constraint=". != 3"),                            # 6
              q("text", "c", "丙", required="${b} > 2"),
              q("select_one l", "d", "丁", choice_filter="kind = 'x'"),
              q("text", "HouseName", "房屋名称"),
              q("begin_group", "g1", "一组"),                                          # 10
              q("begin_group", "g2", "二组"),
              q("text", "e", "戊"),
              q("end_group", None),
              q("end_group", None),
              q("begin_repeat", "members", "成员", repeat_count="3"),                  # 15
              q("text", "name", "姓名"),
              q("integer", "m", "己", relevant="${b} > 1"),
              q("begin_repeat", "pets", "宠物"),
              q("text", "pet", "名字"),
              q("end_repeat", None),                                                   # 20
              q("end_repeat", None),
              q("select_one l or_other", "f", "庚"),
              q("geotrace", "path", "路线"),
              q("date", "g", "辛", constraint=". <= today()"),
              q("text", "id", "编号")]                                                 # 25
    choices = [["list_name", "name", "label", "kind"], ["l", "a", "A", "x"],
               ["l", "b", "B", "y"]]
    settings = [["form_title", "form_id"], ["不支持的写法", "unsupported"]]
    write(HERE / "household_unsupported.xlsx", survey, choices, settings)


if __name__ == "__main__":
    kobo()
    zh()
    unsupported()
