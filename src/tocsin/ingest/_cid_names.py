"""Names of the Ademco Contact ID (DC-05) event codes, and whether CCC is a user or a zone.

Data only, read through :mod:`tocsin.ingest.sia_codes`. Compiled from the "SIA DC-05-2016"
constants of siadc09 (Unlicense) in tocsin's protocol research (``specs/vectors/sia_codes``),
a third-party package, not the standard itself: check against the purchased DC-05 before
relying on it for certification. Codes 750–789 are "User Assigned" and are not listed.

One code a line: ``XYZ user|zone name`` (``user``: the CCC field is a user number).
"""

from __future__ import annotations

__all__ = ("CID_CODES",)

_TABLE = """\
100 zone Medical
101 zone Personal Emergency
102 zone Fail To Report In
103 zone Fall Detected
110 zone Fire
111 zone Smoke
112 zone Combustion
113 zone Water Flow
114 zone Heat
115 zone Pull Station
116 zone Duct
117 zone Flame
118 zone Near Alarm
120 zone Panic
121 user Duress
122 zone Silent
123 zone Audible
124 zone Duress - Access Granted
125 zone Duress - Egress Granted
126 user Hold-up Suspicion Print
129 zone Panic Verifier
130 zone Burglary
131 zone Perimeter
132 zone Interior
133 zone 24 Hour (Safe)
134 zone Entry/Exit
135 zone Day/Night
136 zone Outdoor
137 zone Tamper
138 zone Near Alarm
139 zone Intrusion Verifier
140 zone General Alarm
141 zone Polling Loop Open
142 zone Polling Loop Short
143 zone Expansion Module Failure
144 zone Sensor Tamper
145 zone Expansion Module Tamper
146 zone Silent Burglary
147 zone Sensor Supervision Failure
150 zone 24 Hour Non-Burglary
151 zone Gas Detected
152 zone Refrigeration
153 zone Loss Of Heat
154 zone Water Leakage
155 zone Foil Break
156 zone Day Trouble
157 zone Low Bottled Gas Level
158 zone High Temp
159 zone Low Temp
161 zone Loss Of Air Flow
162 zone Carbon Monoxide Detected
163 zone Tank Level
168 zone High Humidity
169 zone Low Humidity
200 zone Fire Supervisory
201 zone Low Water Pressure
202 zone Low CO2
203 zone Gate Valve Sensor
204 zone Low Water Level
205 zone Pump Activated
206 zone Pump Failure
300 zone System Trouble
301 zone AC Loss
302 zone Low System Battery
303 zone RAM Checksum Bad
304 zone ROM Checksum Bad
305 zone System Reset
306 zone Panel Programming Changed
307 zone Self-Test Failure
308 zone System Shutdown
309 zone Battery Test Failure
310 zone Ground Fault
311 zone Battery Missing/Dead
312 zone Power Supply Overcurrent
313 user Engineer Reset
314 zone Primary Power Supply Failure
315 zone System Trouble
316 zone System Tamper
317 zone Control Panel System Tamper
320 zone Sounder/Relay
321 zone Bell 1
322 zone Bell 2
323 zone Alarm Relay
324 zone Trouble Relay
325 zone Reversing Relay
326 zone Notification Appliance Ckt. # 3
327 zone Notification Appliance Ckt. #4
330 zone System Peripheral Trouble
331 zone Polling Loop Open
332 zone Polling Loop Short
333 zone Module Failure
334 zone Repeater Failure
335 zone Local Printer Out Of Paper
336 zone Local Printer Failure
337 zone Module DC Loss
338 zone Module Low Batt.
339 zone Module Reset
341 zone Module Tamper
342 zone Module AC Loss
343 zone Module Self-Test Fail
344 zone RF Receiver Jam Detect
345 zone AES Encryption Disabled/ Enabled
350 zone Communication Trouble
351 zone Telco 1 Fault
352 zone Telco 2 Fault
353 zone Long Range Radio Xmitter Fault
354 zone Failure To Communicate Event
355 zone Loss Of Radio Supervision
356 zone Loss Of Central Polling
357 zone Long Range Radio VSWR Problem
358 zone Periodic Comm Test
370 zone Protection Loop
371 zone Protection Loop Open
372 zone Protection Loop Short
373 zone Fire Trouble
374 zone Exit Error Alarm
375 zone Panic Zone Trouble
376 zone Hold-Up Zone Trouble
377 zone Swinger Trouble
378 zone Cross-zone Trouble
380 zone Sensor Trouble
381 zone Loss Of Supervision RF
382 zone Loss Of Supervision RPM
383 zone Sensor Tamper
384 zone RF Low Battery
385 zone Smoke Detector Hi Sensitivity
386 zone Smoke Detector Low Sensitivity
387 zone Intrusion Detector Hi Sensitivity
388 zone Intrusion Detector Low Sensitivity
389 zone Sensor Self-Test Failure
391 zone Sensor Watch Trouble
392 zone Drift Compensation Error
393 zone Maintenance Alert
394 zone CO Detector Needs Replacement
400 user Open/Close
401 user O/C By
402 user Group O/C
403 user Automatic O/C
404 user Late To O/C
405 user Deferred O/C
406 user Cancel
407 user Remote Arm/Disarm
408 user Quick Arm
409 user Keyswitch O/C
411 user Callback Request Made
412 user Successful Download/Access
413 user Unsuccessful Access
414 user System Shutdown Command Received
415 user Dialer Shutdown Command Received
416 zone Successful Upload
421 user Access Denied
422 user Access Report By
423 zone Forced Access
424 user Egress Denied
425 user Egress Granted
426 zone Access Door Propped Open
427 zone Access Point Door Status Monitor Trouble
428 zone Access Point Request To Exit Trouble
429 user Access Program Mode Entry
430 user Access Program Mode Exit
431 user Access Threat Level Change
432 zone Access Relay/Trigger Fail
433 zone Access RTE Shunt
434 zone Access DSM Shunt
435 user Second Person Access
436 user Irregular Access
441 user Armed Stay
442 user Keyswitch Armed Stay
443 user Armed With System Trouble Override
444 user Armed Night Stay
450 user Exception O/C
451 user Early O/C
452 user Late O/C
453 user Failed To Open
454 user Failed To Close
455 user Auto-Arm Failed
456 user Partial Arm
457 user Exit Error
458 user User On Premises
459 user Recent Close
461 zone Wrong Code Entry
462 user Legal Code Entry
463 user Re-Arm After Alarm
464 user Auto-Arm Time Extended
465 zone Panic Alarm Reset
466 user Service On/Off Premises
501 zone Access Reader Disable
520 zone Sounder/Relay Disable
521 zone Bell 1 Disable
522 zone Bell 2 Disable
523 zone Alarm Relay Disable
524 zone Trouble Relay Disable
525 zone Reversing Relay Disable
526 zone Notification Appliance Ckt. # 3 Disable
527 zone Notification Appliance Ckt. # 4 Disable
531 zone Module Added
532 zone Module Removed
551 zone Dialer Disabled
552 zone Radio Transmitter Disabled
553 zone Remote Upload/Download Disabled
554 zone Fiber Converter Fault
555 zone Fiber Network Fault
570 zone Bypass (Zone/Sensor)
571 zone Bypass (Fire Zone)
572 zone Bypass (24 Hour Zone)
573 zone Bypass (Burglary Zone)
574 user Group Bypass
575 zone Swinger Bypass
576 zone Shunt (Access Zone)
577 zone Bypass (Access Point)
578 zone Bypass (Vault Zone)
579 zone Bypass (Vent Zone)
601 zone Manual Trigger Test Report
602 zone Periodic Test Report
603 zone Periodic RF Transmission
604 user Fire Test
605 zone Status Report To Follow
606 zone Listen-In To Follow
607 user Walk Test Mode
608 zone Periodic Test - System Trouble Present
609 zone Video Xmitter Active
611 zone Tested OK
612 zone Not Tested
613 zone Walk Tested (Intrusion Zone)
614 zone Walk Tested (Fire Zone)
615 zone Walk Tested (Panic Zone)
616 zone Service Request
621 zone Event Log Reset
622 zone Event Log 50% Full
623 zone Event Log 90% Full
624 zone Event Log Overflow
625 user Time/Date Reset
626 zone Time/Date Inaccurate
627 zone Program Mode Entry
628 zone Program Mode Exit
629 zone 32 Hour Event Log Marker
630 zone Schedule Change
631 zone Exception Schedule Change
632 zone Access Schedule Change
641 zone Senior Watch Trouble
642 user Latch-Key Supervision
643 zone Restricted Door Opened
645 zone Help Arrived
646 zone Additional Help Needed
647 zone Additional Help Cancel
651 zone Reserved For Ademco Use
652 user Reserved For Ademco Use
653 user Reserved For Ademco Use
654 zone System Inactivity
655 user Code Modified By Installer
703 zone Auxiliary #3
704 zone Installer Test
796 zone Unable To Output Signal (Derived Channel)
798 zone STU Controller Down (Derived Channel)
900 zone Download Abort
901 zone Download Start/End
902 zone Download Interrupted
903 zone Flash Update Started/ Completed
904 zone Flash Update Failed
910 zone Auto-close With Bypass
911 zone Bypass Closing
912 zone Fire Alarm Silence
913 user Supervisory Point Test Start/End
914 user Hold-up Test Start/End
915 user Burg. Test Print Start/End
916 user Supervisory Test Print Start/End
917 zone Burg. Diagnostics Start/End
918 zone Fire Diagnostics Start/End
919 zone Untyped Diagnostics
920 user Trouble Closing (With Burg. During Exit)
921 user Access Denied Code Unknown
922 zone Supervisory Point Alarm
923 zone Supervisory Point Bypass
924 zone Supervisory Point Trouble
925 zone Hold-up Point Bypass
926 zone AC Failure For 4 Hours
927 zone Output Trouble
928 user User Code For Event
929 user Log-off
954 zone CS Connection Failure
961 zone Rcvr Database Connection Fail/Restore
962 zone License Expiration Notification
"""

CID_CODES: dict[str, tuple[str, bool]] = {
    code: (name, kind == "user") for code, kind, name in (line.split(" ", 2) for line in _TABLE.splitlines())
}
"""Contact ID event code → (name, CCC is a user number)."""
CID_CODES.update({str(code): ("User Assigned", False) for code in range(750, 790)})
