"""Names of the SIA-DCS (DC-03) event codes, and what each code's address counts.

Data only, read through :mod:`tocsin.ingest.sia_codes`. Compiled from the code tables in
tocsin's protocol research (``specs/vectors/sia_codes``: pysiaalarm's table, MIT, and the
"SIA DC-03-2017" constants of siadc09, Unlicense; a few vendor codes, e.g. Ajax's ``PC``
… ``PG``, appear only in the former). Those come from third-party packages, not from the
SIA standard: check against the purchased DC-03 before relying on them for certification.

One code a line: ``CODE address-kind name``; ``-`` means the code carries no address.
"""

from __future__ import annotations

__all__ = ("DCS_CODES",)

_TABLE = """\
AA condition Alarm - Panel Substitution
AB zone Abort
AF zone Arming Event: Scenario
AN zone Analog Restoral
AR - AC Restoral
AS zone Analog Service
AT - AC Trouble
BA zone Burglary Alarm
BB zone Burglary Bypass
BC user Burglary Cancel
BD zone Swinger Trouble
BE zone Swinger Trouble Restore
BG zone Unverified Event - Burglary
BH zone Burglary Alarm Restore
BJ zone Burglary Trouble Restore
BM zone Burglary Alarm - Cross Point
BR zone Burglary Restoral
BS zone Burglary Supervisory
BT zone Burglary Trouble
BU zone Burglary Unbypass
BV area Burglary Verified
BX zone Burglary Test
BZ zone Missing Supervision
CA area Automatic Closing
CB area Arming Event: Group has been disarmed automatically
CC area Arming Event: Unsuccessful arming attempt
CD area Closing Delinquent
CE user Closing Extend
CF user Forced Closing
CG user Close Area
CI area Fail to Close
CJ area Late Close
CK user Early Close
CL user Closing Report
CM zone Missing Alarm - Recent Closing
CO condition Command Sent
CP user Automatic Closing
CQ user Remote Closing
CR user Recent Closing
CS zone Closing Keyswitch
CT area Late to Open
CW area Was Force Armed
CX custom Custom Function Executed
CZ zone Point Closing
DA user Card Assigned
DB user Card Deleted
DC door Access Closed
DD door Access Denied
DE door Request to Enter
DF door Door Forced
DG door Access Granted
DH door Door Left Open - Restoral
DI door Access Denied - Passback
DJ door Door Forced - Trouble
DK door Access Lockout
DL door Door Left Open - Alarm
DM door Door Left Open - Trouble
DN door Door Left Open (non-alarm, non-trouble)
DO door Access Open
DP door Access Denied - Unauthorized Time
DQ door Access Denied - Unauthorized Arming State
DR door Door Restoral
DS door Door Station
DT - Access Trouble
DU dealer Dealer ID
DV door Access Denied - Unauthorized Entry Level
DW door Access Denied - Interlock
DX door Request to Exit
DY door Door Locked
DZ door Access Denied - Door Secured
EA zone Exit Alarm
EE user Exit Error
EJ expander Expansion Tamper Restore
EM expander Expansion Device Missing
EN expander Expansion Missing Restore
ER expander Expansion Restoral
ES expander Expansion Device Tamper
ET expander Expansion Trouble
EX device External Device Condition
EZ point Missing Alarm - Exit Error
FA zone Fire Alarm
FB zone Fire Bypass
FC zone Fire Cancel
FG zone Unverified Event - Fire
FH zone Fire Alarm Restore
FI area Fire Test Begin
FJ zone Fire Trouble Restore
FK area Fire Test End
FL zone Fire Alarm Silenced
FM point Fire Alarm - Cross Point
FQ zone Fire Supervisory Trouble Restore
FR zone Fire Restoral
FS zone Fire Supervisory
FT zone Fire Trouble
FU zone Fire Unbypass
FV zone Fire Supervision Restore
FW zone Fire Supervisory Trouble
FX zone Fire Test
FY zone Missing Fire Trouble
FZ zone Missing Fire Supervision
GA zone Gas Alarm
GB zone Gas Bypass
GH zone Gas Alarm Restore
GJ zone Gas Trouble Restore
GR zone Gas Restoral
GS zone Gas Supervisory
GT zone Gas Trouble
GU zone Gas Unbypass
GX zone Gas Test
HA zone Holdup Alarm
HB zone Holdup Bypass
HH zone Holdup Alarm Restore
HJ zone Holdup Trouble Restore
HR zone Holdup Restoral
HS zone Holdup Supervisory
HT zone Holdup Trouble
HU zone Holdup Unbypass
IA point Equipment Failure Condition
IR point Equipment Fail - Restoral
JA area User code Tamper
JC area User code tamper canceled
JD user Date Changed
JH user Holiday Changed
JK user Latchkey Alert
JL - Log Threshold
JO - Log Overflow
JP user User On Premises
JR area Schedule Executed
JS user Schedule Changed
JT user Time Changed
JV user User code Changed
JX user User code Deleted
JY user User code Added
JZ user User Level Set
KA zone Heat Alarm
KB zone Heat Bypass
KH zone Heat Alarm Restore
KJ zone Heat Trouble Restore
KR zone Heat Restoral
KS zone Heat Supervisory
KT zone Heat Trouble
KU zone Heat Unbypass
LB - Local Program
LD - Local Program Denied
LE - Listen-in Ended
LF - Listen-in Begin
LR line Phone Line Restoral
LS - Local Program Success
LT line Phone Line Trouble
LU - Local Program Fail
LX - Local Programming Ended
MA zone Medical Alarm
MB zone Medical Bypass
MH zone Medical Alarm Restore
MI message Message
MJ zone Medical Trouble Restore
MR zone Medical Restoral
MS zone Medical Supervisory
MT zone Medical Trouble
MU zone Medical Unbypass
NA zone No Activity
NB area Arming Event: Scenario
NC network Network Condition
ND area Arming Event: Night mode deactivated - duress
NE area Arming Event: Unsuccessful Night mode activation attempt
NF area Forced Perimeter Arm
NL area Perimeter Armed
NM area Perimeter Armed, User Defined
NO area Arming Event: Night mode deactivated automatically
NP zone Arming Event: Night mode deactivated using device
NR network Network Restoral
NS zone Activity Resumed
NT network Network Failure
OA area Automatic Opening
OB area Arming Event: Group has been disarmed automatically
OC user Cancel Report
OG area Open Area
OH user Early to Open from Alarm
OI area Fail to Open
OJ user Late Open
OK user Early Open
OL user Late to Open from Alarm
OP user Opening Report
OQ user Remote Opening
OR user Disarm From Alarm
OS zone Opening Keyswitch
OT user Late To Close
OU output Output State - Trouble
OV output Output State - Restore
OZ zone Point Opening
PA zone Panic Alarm
PB zone Panic Bypass
PC user Photo on demand enabled
PD user Photo on demand disabled
PE - Photo by scenario enable
PF zone Malfunction: MotionCam lost connection with hub over photos communication channel
PG - Photo by scenario disable
PH zone Panic Alarm Restore
PJ zone Panic Trouble Restore
PO - Malfunction restore: Connection restored, device in room
PR zone Panic Restoral
PS zone Panic Supervisory
PT zone Panic Trouble
PU zone Panic Unbypass
QA zone Emergency Alarm
QB zone Emergency Bypass
QH zone Emergency Alarm Restore
QJ zone Emergency Trouble Restore
QR zone Emergency Restoral
QS zone Emergency Supervisory
QT zone Emergency Trouble
QU zone Emergency Unbypass
RA - Remote Programmer Call Failed
RB - Remote Program Begin
RC relay Relay Close
RD - Remote Program Denied
RN - Remote Reset
RO relay Relay Open
RP - Automatic Test
RR - Power Up
RS - Remote Program Success
RT line Data Lost
RU - Remote Program Fail
RX user Manual Test
RY zone Test Off Normal
SA zone Sprinkler Alarm
SB zone Sprinkler Bypass
SC condition Change of State
SH zone Sprinkler Alarm Restore
SJ zone Sprinkler Trouble Restore
SM zone Malfunction: LeakProtect Malfunction
SR zone Sprinkler Restoral
SS zone Sprinkler Supervisory
ST zone Sprinkler Trouble
SU zone Sprinkler Unbypass
TA zone Tamper Alarm
TB zone Tamper Bypass
TC - All Points Tested
TE - Test End
TH - Tamper Alarm Restore
TJ - Tamper Trouble Restore
TP point Walk Test Point
TR zone Tamper Restoral
TS - Test Start
TT zone Tamper Trouble
TU zone Tamper Unbypass
TW - Area Watch Start
TX - Test Report
TZ - Area Watch End
UA zone Untyped Zone Alarm
UB zone Untyped Zone Bypass
UG zone Unverified Event - Untyped
UH zone Untyped Alarm Restore
UJ zone Untyped Trouble Restore
UR zone Untyped Zone Restoral
US zone Untyped Zone Supervisory
UT zone Untyped Zone Trouble
UU zone Untyped Zone Unbypass
UX - Undefined
UY zone Untyped Missing Trouble
UZ zone Untyped Missing Alarm
VI printer Printer Paper In
VO printer Printer Paper Out
VR printer Printer Restore
VT printer Printer Trouble
VX printer Printer Test
VY - Printer Online
VZ - Printer Offline
WA zone Water Alarm
WB zone Water Bypass
WH zone Water Alarm Restore
WJ zone Water Trouble Restore
WR zone Water Restoral
WS zone Water Supervisory
WT zone Water Trouble
WU zone Water Unbypass
XA - Extra Account Report
XC - Malfunction restore: Connection restored, device in room
XE point Extra Point
XF point Extra RF Point
XH receiver RF Interference Restoral
XI zone Sensor Reset
XJ receiver RF Receiver Tamper Restoral
XL receiver Low Received Signal Strength/Connection Lost
XM zone Missing Alarm - Cross Point
XQ receiver RF Interference
XR zone Transmitter Battery Restoral
XS receiver RF Receiver Tamper
XT zone Transmitter Battery Trouble
XW zone Forced Point
XX - Fail to Test
YA - Bell Fault
YB linecard Busy Seconds
YC - Communications Fail
YD linecard Receiver Line Card Trouble
YE linecard Receiver Line Card Restored
YF - Parameter Checksum Fail
YG - Parameter Changed
YH - Bell Restored
YI - Overcurrent Trouble
YJ - Overcurrent Restore
YK - Communications Restoral
YM - System Battery Missing
YN - Invalid Report
YO - Unknown Message
YP - Power Supply Trouble
YQ - Power Supply Restored
YR - System Battery Restoral
YS - Communications Trouble
YT - System Battery Trouble
YU condition Diagnostic Error
YW - Watchdog Reset
YX - Service Required
YY - Status Report
YZ mfrdef Service Completed
ZA zone Freeze Alarm
ZB zone Freeze Bypass
ZH zone Freeze Alarm Restore
ZJ zone Freeze Trouble Restore
ZR zone Freeze Restoral
ZS zone Freeze Supervisory
ZT zone Freeze Trouble
ZU zone Freeze Unbypass
ZY - Common Event: Device was switched on
ZZ - Common Event: Device was switched off
"""

DCS_CODES: dict[str, tuple[str, str | None]] = {
    code: (name, None if kind == "-" else kind)
    for code, kind, name in (line.split(" ", 2) for line in _TABLE.splitlines())
}
"""SIA-DCS code → (name, address kind such as ``zone``, ``user``, ``area``, or None)."""
