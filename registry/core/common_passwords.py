"""Common passwords of 10 characters or more (shorter ones fail the length rule anyway).

A small list from the published leaked-password top lists (SecLists, Chinese top lists), in
lower case; registry.core.users refuses them whatever their letter case.
"""

_WORDS = """
1234567890 0123456789 0987654321 9876543210 1111111111 0000000000 1234512345 1122334455
1234567891 12345678910 123456789a a123456789 123456789q q123456789 1234567890a a1234567890
123456789abc abc1234567 abcd123456 abcde12345 abc123456789 1q2w3e4r5t 1q2w3e4r5t6y
1qaz2wsx3edc 1qazxsw23edc qazwsxedcrfv zaq12wsxcde3 qwertyuiop qwertyuiop1 qwerty1234
qwerty12345 qwerty123456 asdfghjkl1 asdfghjkl123 zxcvbnm123 zxcvbnm1234 password12
password123 password1234 password12345 password123456 password!! password1! passw0rd12
p@ssw0rd12 p@ssword123 iloveyou12 iloveyou123 woaini1314 woaini520 woaini5201314 5201314520
aaaaaaaaaa abcdefghij abcdefghijk abcdefghijkl 1234qwerasdf 123qweasdzxc qweasdzxc123
administrator admin12345 admin123456 adminadmin admin@123 root123456 welcome123 welcome1234
letmein123 sunshine12 football12 baseball12 princess12 monkey1234 dragon1234 master1234
superman12 trustno1234 shadow1234 michael123 jennifer12 computer12 internet12 1234abcd!
changeme123 changeme12 default123 test123456 testtest12 guest12345 user123456 qwer1234!
anju123456 anju-demo1 anjuanju12 shantytown renovation123 zhangwei123 wangfang123
"""
COMMON_PASSWORDS = frozenset(_WORDS.split())
