"""SIA-DCS and Contact ID event codes: names, and the tocsin alarm type each one raises.

Tables, not logic: :data:`SIA_ALARM_TYPES` maps a DC-03 two-letter code to ``(alarm-type
key, condition)``; :data:`CID_ALARM_TYPES` maps a DC-05 event code to a key, the condition
coming from the qualifier (``3`` restore → cleared; ``1`` new and ``6`` still present →
active). Opening/closing (arming/disarming) reports are records, as a monitoring centre
keeps them: they map to the priority-4 ``security.open_close`` and never clear anything (a
closing is not the restore of an opening); a panel's own schedule exceptions (fail to
close, late close, auto-arm failed) map to ``tech.fail_to_arm``. Codes that are not alarms
(bypass, programming, access granted…) and alarms with no fitting tocsin type (untyped
zone, freeze) map to None: the receiver
still stores them as events ``sia.<CODE>`` / ``cid.<CODE>``, unknown ones end up as
unclassified incidents, and nothing is dropped. Names come from ``_dcs_names`` and
``_cid_names``. Parsing the data block is :mod:`tocsin.ingest.sia_payload`'s job.
"""

from __future__ import annotations

from typing import Final

from tocsin.ingest._cid_names import CID_CODES
from tocsin.ingest._dcs_names import DCS_CODES
from tocsin.model import Condition

__all__ = (
    "ALARM_TYPE_KEYS",
    "CID_ALARM_TYPES",
    "SIA_ALARM_TYPES",
    "cid_is_user",
    "classify_cid",
    "classify_sia",
    "describe_cid",
    "describe_sia",
    "sia_address_kind",
)

ALARM_TYPE_KEYS: Final = frozenset(
    {
        "fire.alarm",
        "fire.smoke",
        "fire.heat",
        "fire.sprinkler",
        "intrusion.burglary",
        "intrusion.perimeter",
        "intrusion.glassbreak",
        "intrusion.door_forced",
        "panic.duress",
        "panic.button",
        "panic.holdup",
        "medical.emergency",
        "hazmat.gas_leak",
        "hazmat.co",
        "utility.water_leak",
        "utility.flood_sensor",
        "tech.comm_failure",
        "tech.low_battery",
        "tech.tamper",
        "tech.ac_loss",
        "tech.trouble",
        "tech.test",
        "tech.fail_to_arm",
        "security.open_close",
    }
)
"""The alarm-type keys of the default dictionary these tables map onto."""


def _group(key: str | None, condition: Condition, codes: str) -> dict[str, tuple[str | None, Condition]]:
    return {code: (key, condition) for code in codes.split()}


def _keys(key: str, codes: str) -> dict[str, str | None]:
    return dict.fromkeys(codes.split(), key)


# Per family: alarm, its restore/cancel, its trouble and supervisory, trouble restore, test.
# A restore code clears whatever its family raised, so the receiver can close the loop.
SIA_ALARM_TYPES: Final[dict[str, tuple[str | None, Condition]]] = {
    **_group("intrusion.burglary", "active", "BA BG BM BV EA"),
    **_group("intrusion.burglary", "cleared", "BH BR BC"),
    **_group("intrusion.door_forced", "active", "DF DJ"),
    **_group("intrusion.door_forced", "cleared", "DR"),
    **_group("fire.alarm", "active", "FA FG FM"),
    **_group("fire.alarm", "cleared", "FH FR FC"),
    **_group("fire.heat", "active", "KA"),
    **_group("fire.heat", "cleared", "KH KR"),
    **_group("fire.sprinkler", "active", "SA"),
    **_group("fire.sprinkler", "cleared", "SH SR"),
    **_group("hazmat.gas_leak", "active", "GA"),
    **_group("hazmat.gas_leak", "cleared", "GH GR"),
    **_group("utility.water_leak", "active", "WA"),
    **_group("utility.water_leak", "cleared", "WH WR"),
    **_group("medical.emergency", "active", "MA QA"),
    **_group("medical.emergency", "cleared", "MH MR QH QR"),
    **_group("panic.button", "active", "PA"),
    **_group("panic.button", "cleared", "PH PR"),
    **_group("panic.holdup", "active", "HA"),
    **_group("panic.holdup", "cleared", "HH HR"),
    **_group("tech.tamper", "active", "TA TT ES XS JA"),
    **_group("tech.tamper", "cleared", "TH TR TJ EJ XJ JC"),
    **_group("tech.ac_loss", "active", "AT"),
    **_group("tech.ac_loss", "cleared", "AR"),
    **_group("tech.low_battery", "active", "YT YM XT"),
    **_group("tech.low_battery", "cleared", "YR XR"),
    **_group("tech.comm_failure", "active", "YC YS NT LT XL XQ EM RT XX"),
    **_group("tech.comm_failure", "cleared", "YK NR LR XH EN"),
    **_group(
        "tech.trouble",
        "active",
        "BT BS BD BZ FT FS FW FY FZ KT KS ST SS GT GS WT WS MT MS QT QS PT PS HT HS ZT ZS "
        "UT US UY UZ ET DT YA YF YI YP YU YX IA OU AS PF SM",
    ),
    **_group(
        "tech.trouble",
        "cleared",
        "BJ BE FJ FV FQ KJ SJ GJ WJ MJ QJ PJ HJ ZJ UJ ER YH YJ YQ YZ IR OV AN PO XC",
    ),
    **_group("tech.test", "active", "RP RX TX RY BX FX GX"),
    # Opening/closing: user, area, automatic, remote, keyswitch, early/late, after alarm, forced,
    # perimeter (night) arming. Records, all "active": a closing never clears an opening.
    **_group(
        "security.open_close",
        "active",
        "OP CL OG CG OA CA OQ CQ OS CS OK CK OJ OH OL OR CR CF CW CP CE OC OI CT NL NM NF CB OB NB AF",
    ),
    **_group("tech.fail_to_arm", "active", "CI CD CJ OT CC"),
    # Alarms without a fitting tocsin type: unclassified, but their restores still clear.
    **_group(None, "active", "UA UG ZA"),
    **_group(None, "cleared", "UH UR ZH ZR DH"),
}
"""SIA-DCS code → (alarm-type key or None, condition). Codes not listed: (None, active)."""

CID_ALARM_TYPES: Final[dict[str, str | None]] = {
    **_keys("medical.emergency", "100 101 103"),
    **_keys("fire.alarm", "110 112 115 117 118"),
    **_keys("fire.smoke", "111 116"),
    **_keys("fire.heat", "114"),
    **_keys("utility.water_leak", "113 154"),  # 113 is DC-05 "water flow"; pysiaalarm sends WA
    **_keys("panic.button", "120 123 129"),  # 123: 24 h audible panic
    **_keys("panic.duress", "121 124 125"),
    **_keys("panic.holdup", "122"),  # 24 h silent panic: the hold-up button
    **_keys("intrusion.burglary", "130 132 133 134 135 138 139 146 374"),
    **_keys("intrusion.perimeter", "131 136"),
    **_keys("intrusion.glassbreak", "155"),  # foil break: glass protection
    **_keys("intrusion.door_forced", "423"),
    **_keys("hazmat.gas_leak", "151"),
    **_keys("hazmat.co", "162"),
    **_keys("tech.tamper", "137 144 145 316 317 341 383"),
    **_keys("tech.ac_loss", "301 314 342 926"),
    **_keys("tech.low_battery", "302 309 311 338 384"),
    **_keys("tech.comm_failure", "147 344 350 351 352 353 354 355 356 357 381 382 554 555 954"),
    **_keys(
        "tech.trouble",
        "141 142 143 156 200 201 202 203 204 206 300 303 304 307 308 310 312 315 "
        "320 321 322 323 324 325 326 327 330 331 332 333 334 335 336 337 343 "
        "370 371 372 373 375 376 377 378 380 385 386 387 388 389 391 392 393 394 "
        "427 428 432 922 924 927",
    ),
    **_keys("tech.test", "358 601 602 603 604 608"),
    # 4xx open/close: qualifier 1 is an opening, 3 a closing (classify_cid never clears them).
    **_keys("security.open_close", "400 401 402 403 404 405 406 407 408 409 441 442 443 444 450 451 452 453 456 459"),
    **_keys("tech.fail_to_arm", "454 455"),
}
"""Contact ID event code → alarm-type key. Codes not listed map to None."""


def classify_sia(code: str) -> tuple[str | None, Condition]:
    """The tocsin alarm type and condition a SIA-DCS event code stands for.

    Args:
        code: the two-letter code (``BA``, ``FR``…), any case.

    Returns:
        ``(key, condition)``; key None for non-alarms and unknown codes (see the module).
    """
    return SIA_ALARM_TYPES.get(code.upper(), (None, "active"))


def classify_cid(qualifier: str, code: str) -> tuple[str | None, Condition]:
    """The tocsin alarm type and condition a Contact ID event stands for.

    Qualifier ``3`` is a restore (cleared), except for the 4xx open/close codes where it
    means "closing"; ``1`` (new) and ``6`` (previously reported, still present) are active,
    and so is anything else (siadc09 uses ``2`` for restore; we never clear on a guess).

    Args:
        qualifier: the Q digit.
        code: the 3-digit event code.

    Returns:
        ``(key, condition)``; key None for non-alarms and unknown codes.
    """
    code = code.upper()
    cleared = qualifier == "3" and not code.startswith("4")
    return CID_ALARM_TYPES.get(code), "cleared" if cleared else "active"


def describe_sia(code: str) -> str | None:
    """The name of a SIA-DCS event code (``BA`` → ``Burglary Alarm``), None if unknown."""
    entry = DCS_CODES.get(code.upper())
    return entry[0] if entry else None


def sia_address_kind(code: str) -> str | None:
    """What a SIA-DCS code's address counts (``zone``, ``user``, ``area``…), None if nothing."""
    entry = DCS_CODES.get(code.upper())
    return entry[1] if entry else None


def describe_cid(code: str) -> str | None:
    """The name of a Contact ID event code (``130`` → ``Burglary``), None if unknown."""
    entry = CID_CODES.get(code.upper())
    return entry[0] if entry else None


def cid_is_user(code: str) -> bool:
    """Whether a Contact ID code's CCC field is a user number (e.g. 121 duress, 4xx) not a zone."""
    entry = CID_CODES.get(code.upper())
    return entry[1] if entry else False
