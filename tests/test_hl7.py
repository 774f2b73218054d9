"""HL7 v2 ORU^R01 messages in (b12labs.hl7) and ``b12labs score feed.hl7``.

Field positions are those of HL7 v2.5.1: MSH in chapter 2 (MSH-9 message type, MSH-10 control
ID), PID in chapter 3 (PID-3 identifier list, PID-7 date of birth, PID-8 administrative sex),
OBR and OBX in chapter 7 (OBR-2 placer and OBR-3 filler order number, OBR-7 observation
date/time; OBX-2 value type, OBX-3 observation identifier, OBX-5 value, OBX-6 units, OBX-11
result status from table 0085, OBX-14 date/time of the observation). The SN data type
(comparator ^ num1 ^ separator/suffix ^ num2) is section 2.A.71. LOINC codes are those of
b12labs' table (src/b12labs/_data/analytes.toml, and b12labs.fhir.EGFR_LOINC for eGFR), as
b12labs.fhir reads them.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import b12labs
from b12labs import B12LabsError, Hl7Error, Measurement, Panel, cli
from b12labs.hl7 import LOCAL_CODE_KEYS, _measurement_text, read_oru, read_oru_file

pd = pytest.importorskip("pandas")

MSH = "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240301120000||ORU^R01|{control}|P|2.5.1"
PID = "PID|1||PAT001^^^HOSP^MR||Doe^Jane||19500215|F"
OBR = "OBR|1|ORD001|FIL001|B12P^B12 panel^L|||20240301083000"


def message(*segments: str, control: str = "MSG1", header: str = MSH) -> str:
    """One message, segments ended by \\r as HL7 v2.5.1 section 2.5.1 says."""
    return "\r".join([header.format(control=control), *segments]) + "\r"


def obx(code: str, value: str, unit: str = "", *, status: str = "F", vtype: str = "NM",
        system: str = "LN", set_id: str = "1", when: str = "") -> str:  # fmt: skip
    """An OBX: 1 set ID, 2 value type, 3 identifier, 5 value, 6 units, 11 status, 14 time."""
    return f"OBX|{set_id}|{vtype}|{code}^name^{system}||{value}|{unit}|||||{status}|||{when}"


def one(*segments: str, **kwargs: Any) -> b12labs.hl7.Hl7Panel:
    panels = read_oru(message(PID, OBR, *segments), **kwargs)
    assert len(panels) == 1
    return panels[0]


def noted(item: b12labs.hl7.Hl7Panel, *parts: str) -> bool:
    return any(all(p in note for p in parts) for note in item.notes)


# ----------------------------------------------------------------------------- analytes


# (LOINC code, panel field, value, unit): the codes of _data/analytes.toml (decision-spec
# section 1), as b12labs.fhir reads them.
CODES = [
    ("2132-9", "b12", "203", "pg/mL"),  # Cobalamin [Mass/volume]
    ("14685-2", "b12", "150", "pmol/L"),  # Cobalamin [Moles/volume]
    ("72160-5", "holotc", "32", "pmol/L"),  # Holotranscobalamin
    ("13964-2", "mma", "0.52", "umol/L"),  # Methylmalonate
    ("13965-9", "hcy", "14", "umol/L"),  # Homocysteine
    ("2284-8", "folate", "4.1", "ng/mL"),  # Folate [Mass/volume]
    ("14732-2", "folate", "9.3", "nmol/L"),  # Folate [Moles/volume]
    ("2160-0", "creatinine", "1.1", "mg/dL"),  # Creatinine [Mass/volume]
]


@pytest.mark.parametrize(("code", "key", "value", "unit"), CODES)
def test_each_loinc_code_gives_its_analyte(code: str, key: str, value: str, unit: str) -> None:
    item = one(obx(code, value, f"{unit}^{unit}^UCUM"))
    measurement = getattr(item.panel, key)
    assert (measurement.value, measurement.unit, measurement.censor) == (float(value), unit, None)
    assert measurement.source == "message 1 (MSG1), OBX 1"


def test_codes_are_the_library_table() -> None:
    """The reader uses the analytes' table, not a copy (every code of it is read)."""
    from b12labs._analytes import analyte_info

    listed = {(c, k) for c, k, _, _ in CODES}
    table = {
        (code, key)
        for key in ("b12", "holotc", "mma", "hcy", "folate", "creatinine")
        for code in analyte_info(key).loinc
    }
    assert listed == table


def test_loinc_as_the_alternate_identifier() -> None:
    # OBX-3.4 alternate identifier with OBX-3.6 "LN": a local code first, LOINC second
    item = one("OBX|1|NM|B12X^Vitamin B12^L^14685-2^Cobalamin^LN||150|pmol/L|||||F")
    assert item.panel.b12 == Measurement(value=150, unit="pmol/L", source=item.panel.b12.source)


def test_a_loinc_code_without_ln_is_not_read_as_loinc() -> None:
    item = one(obx("14685-2", "150", "pmol/L", system="L"))
    assert item.panel.b12 is None
    assert noted(item, "codes not read", "14685-2 (L)")


def test_unknown_codes_are_named_in_one_note() -> None:
    item = one(
        obx("718-7", "13.2", "g/dL"),
        obx("789-8", "4.5", "10*6/uL", set_id="2"),
        obx("14685-2", "150", "pmol/L", set_id="3"),
    )
    assert item.panel.b12 is not None
    assert [n for n in item.notes if n.startswith("codes not read")] == [
        "codes not read: 718-7 (LN), 789-8 (LN)"
    ]


# ----------------------------------------------------------------------------- local codes


def test_local_codes() -> None:
    item = one(
        obx("B12X", "150", "pmol/L", system="99LAB"),
        obx("MMA1", "0.41", "umol/L", system="L", set_id="2"),
        local_codes={"B12X": "b12", "MMA1": "mma"},
    )
    assert item.panel.b12.value == 150
    assert item.panel.mma.value == 0.41


def test_local_codes_do_not_override_loinc() -> None:
    # a mapped code that is the LOINC of another analyte is still read as LOINC
    item = one(obx("14685-2", "150", "pmol/L"), local_codes={"14685-2": "mma"})
    assert item.panel.b12 is not None
    assert item.panel.mma is None


def test_local_code_mapped_to_egfr() -> None:
    item = one(obx("GFR", "48", "mL/min/1.73m2", system="L"), local_codes={"GFR": "egfr"})
    assert item.panel.egfr == 48


@pytest.mark.parametrize("mapping", [{"B12X": "vitamin b12"}, {"B12X": "age"}, {"": "b12"}])
def test_bad_local_codes(mapping: dict[str, str]) -> None:
    with pytest.raises(Hl7Error, match="local_codes"):
        read_oru(message(PID, OBR), local_codes=mapping)


def test_local_codes_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="local_codes"):
        read_oru(message(PID, OBR), local_codes=[("B12X", "b12")])  # type: ignore[arg-type]


def test_local_code_keys() -> None:
    assert LOCAL_CODE_KEYS == ("b12", "holotc", "mma", "hcy", "folate", "creatinine", "egfr")


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("vtype", "value", "number", "censor"),
    [
        ("NM", "150", 150.0, None),
        ("NM", "+150.5", 150.5, None),
        ("NM", "<50", 50.0, "<"),  # not HL7 NM, but sent: read as text
        ("SN", "<^50", 50.0, "<"),  # SN: comparator ^ num1 (section 2.A.71)
        ("SN", ">=^2000", 2000.0, ">="),
        ("SN", "=^150", 150.0, None),  # "=" is the default comparator: not censored
        ("SN", "^150", 150.0, None),
        ("ST", "<50", 50.0, "<"),
        ("ST", "< 50", 50.0, "<"),
        ("TX", ">2000", 2000.0, ">"),
        ("ST", "≤50", 50.0, "<="),
        ("ST", ">1,500", 1500.0, ">"),
        ("", "150", 150.0, None),  # no value type: read as text
    ],
)
def test_values(vtype: str, value: str, number: float, censor: str | None) -> None:
    item = one(obx("14685-2", value, "pmol/L", vtype=vtype))
    b12 = item.panel.b12
    assert (b12.value, b12.censor) == (number, censor)


@pytest.mark.parametrize(
    ("vtype", "value", "why"),
    [
        ("SN", "^100^-^200", "range or ratio"),
        ("SN", "^1^:^128", "range or ratio"),
        ("SN", "<>^50", "comparator"),
        ("SN", "<^", "no number"),
        ("NM", "pending", "not a result"),
        ("ST", "see comment", "not a result"),
        ("ST", "low", "not a number"),
        ("ST", "0,45", "not a number"),  # a decimal comma is never guessed
        ("CWE", "LA6576-8^Positive^LN", "not numeric"),
        ("NM", "", "no value"),
        ("NM", '""', "no value"),  # the HL7 null
        ("NM", "150~160", "several values"),
        ("NM", "-5", "non-negative"),
    ],
)
def test_values_not_used(vtype: str, value: str, why: str) -> None:
    item = one(obx("14685-2", value, "pmol/L", vtype=vtype))
    assert item.panel.b12 is None
    assert noted(item, "OBX 1: b12 not used", why), item.notes


def test_unit_from_the_text_component_when_no_identifier() -> None:
    item = one(obx("14685-2", "150", "^pmol/L"))
    assert item.panel.b12.unit == "pmol/L"


@pytest.mark.parametrize(
    ("unit", "why"),
    [
        ("", "no unit (OBX-6)"),
        ("furlongs", "furlongs"),
        ("mg", "'mg'"),  # a real unit, not a concentration
        ("g/dL^g/dL^UCUM", "plausible"),  # 150 g/dL of B12: implausible, probably a wrong unit
    ],
)
def test_units_missing_or_unknown_are_noted_not_raised(unit: str, why: str) -> None:
    item = one(obx("14685-2", "150", unit), obx("13964-2", "0.52", "umol/L", set_id="2"))
    assert item.panel.b12 is None
    assert item.panel.mma is not None  # the other results of the order are read
    assert noted(item, "OBX 1: b12 not used", why), item.notes


# ----------------------------------------------------------------------------- statuses (0085)


def test_corrected_replaces_final_in_the_same_order() -> None:
    item = one(
        obx("14685-2", "150", "pmol/L", status="F"),
        obx("14685-2", "400", "pmol/L", status="C", set_id="2"),
    )
    assert item.panel.b12.value == 400
    assert noted(item, "OBX 2: b12 (corrected) replaces", "OBX 1")


def test_corrected_result_in_a_later_message_of_the_same_order(tmp_path: Path) -> None:
    first = message(PID, OBR, obx("14685-2", "150", "pmol/L"), control="M1")
    later = message(PID, OBR, obx("14685-2", "400", "pmol/L", status="C"), control="M2")
    path = tmp_path / "feed.hl7"
    path.write_text(first + later, encoding="utf-8")
    (item,) = read_oru_file(path)
    assert item.panel.b12.value == 400
    assert noted(item, "message 2 (M2), OBX 1: b12 (corrected) replaces message 1 (M1), OBX 1")


def test_a_second_final_result_does_not_replace_the_first() -> None:
    # table 0085: F "can only be changed with a corrected result"
    item = one(
        obx("14685-2", "150", "pmol/L"),
        obx("14685-2", "400", "pmol/L", set_id="2"),
    )
    assert item.panel.b12.value == 150
    assert noted(item, "OBX 2: b12 not used", "only a corrected (C) result replaces")


def test_a_repeated_final_result_is_noted_as_a_repeat() -> None:
    item = one(obx("14685-2", "150", "pmol/L"), obx("14685-2", "150", "pmol/L", set_id="2"))
    assert item.panel.b12.value == 150
    assert noted(item, "OBX 2: b12 repeats the final result of", "OBX 1")


def test_both_b12_codes_are_one_analyte() -> None:
    item = one(
        obx("2132-9", "203", "pg/mL"),
        obx("14685-2", "160", "pmol/L", status="C", set_id="2"),
    )
    assert (item.panel.b12.value, item.panel.b12.unit) == (160, "pmol/L")


@pytest.mark.parametrize("status", ["P", "R", "S"])
def test_preliminary_is_used_with_a_note(status: str) -> None:
    item = one(obx("14685-2", "150", "pmol/L", status=status))
    assert item.panel.b12.value == 150
    assert noted(item, "OBX 1: b12 used, status " + status)


def test_final_replaces_preliminary_and_preliminary_never_replaces_final() -> None:
    item = one(
        obx("14685-2", "150", "pmol/L", status="P"),
        obx("14685-2", "160", "pmol/L", status="F", set_id="2"),
        obx("14685-2", "170", "pmol/L", status="P", set_id="3"),
    )
    assert item.panel.b12.value == 160
    assert noted(item, "OBX 2: b12 (final) replaces", "status P")
    assert noted(item, "OBX 3: b12 not used: a preliminary result")
    assert not noted(item, "b12 used, status P")


def test_status_u_without_value_makes_the_preliminary_final() -> None:
    item = one(
        obx("14685-2", "150", "pmol/L", status="P"),
        obx("14685-2", "", "", status="U", set_id="2"),
    )
    assert item.panel.b12.value == 150
    assert noted(item, "OBX 2: b12 of", "changed to final (status U)")
    assert not noted(item, "b12 used, status P")


@pytest.mark.parametrize(
    ("status", "meaning"),
    [("X", "cannot be obtained"), ("I", "pending"), ("O", "order detail"), ("N", "not asked")],
)
def test_results_that_are_not_results_are_dropped_with_a_note(status: str, meaning: str) -> None:
    item = one(obx("14685-2", "150", "pmol/L", status=status))
    assert item.panel.b12 is None
    assert noted(item, f"OBX 1: b12 not used: its status is {status}", meaning)


@pytest.mark.parametrize(("status", "meaning"), [("D", "deleted"), ("W", "posted as wrong")])
def test_deleted_and_wrong_remove_the_earlier_result(status: str, meaning: str) -> None:
    item = one(
        obx("14685-2", "150", "pmol/L"),
        obx("14685-2", "150", "pmol/L", status=status, set_id="2"),
    )
    assert item.panel.b12 is None
    assert noted(item, f"OBX 2: b12 status {status} ({meaning})", "OBX 1 removed")


def test_cancelled_result_dropped_other_results_kept() -> None:
    item = one(
        obx("14685-2", "150", "pmol/L"),
        obx("13964-2", "0.52", "umol/L", status="X", set_id="2"),
    )
    assert item.panel.b12 is not None
    assert item.panel.mma is None
    assert noted(item, "OBX 2: mma not used: its status is X")


@pytest.mark.parametrize("status", ["Q", "FINAL"])
def test_unknown_status_is_not_used(status: str) -> None:
    item = one(obx("14685-2", "150", "pmol/L", status=status))
    assert item.panel.b12 is None
    assert noted(item, "is not a code of HL7 table 0085")


def test_no_status_is_read_as_final_with_a_note() -> None:
    item = one(obx("14685-2", "150", "pmol/L", status=""))
    assert item.panel.b12.value == 150
    assert noted(item, "b12 used, status not given", "read as final")


# ----------------------------------------------------------------------------- patients, orders


def test_several_patients_and_orders() -> None:
    text = message(
        "PID|1||P1^^^H^MR~OTHER^^^X||A^B||19600101|M",
        "OBR|1|O1||B12P|||20240301",
        obx("14685-2", "150", "pmol/L"),
        "OBR|2|O2||MMA|||20240302",
        obx("13964-2", "0.52", "umol/L"),
        "PID|2||P2^^^H^MR||C^D||19800101|F",
        "ORC|RE|O3",
        "OBR|1||F3|B12P|||20240303",  # no placer number: the filler's
        obx("14685-2", "<^50", "pmol/L", vtype="SN"),
    )
    panels = read_oru(text)
    assert [(p.patient_id, p.order_id) for p in panels] == [
        ("P1", "O1"),
        ("P1", "O2"),
        ("P2", "F3"),
    ]
    assert [p.panel.sex for p in panels] == ["male", "male", "female"]
    assert [p.panel.age for p in panels] == [64, 64, 44]
    assert (panels[0].panel.b12 is None, panels[0].panel.mma is None) == (False, True)
    assert (panels[1].panel.b12 is None, panels[1].panel.mma is None) == (True, False)
    assert panels[2].panel.b12.censor == "<"


def test_order_without_patient() -> None:
    (item,) = read_oru(message(OBR, obx("14685-2", "150", "pmol/L")))
    assert (item.patient_id, item.panel.age, item.panel.sex) == (None, None, None)


def test_orders_without_number_are_never_merged() -> None:
    panels = read_oru(
        message(
            PID, "OBR|1", obx("14685-2", "150", "pmol/L"), "OBR|2", obx("14685-2", "400", "pmol/L")
        )
    )
    assert [p.panel.b12.value for p in panels] == [150, 400]


def test_order_without_results_is_an_empty_panel() -> None:
    (item,) = read_oru(message(PID, OBR))
    assert item.panel == Panel(age=74, sex="female")
    assert b12labs.interpret(item.panel).status == b12labs.Status.INSUFFICIENT_DATA


def test_age_at_the_observation_date_in_completed_years() -> None:
    # born 1950-02-15: 74 on 2024-03-01 (OBR-7), 73 on 2024-02-14
    assert one().panel.age == 74
    item = read_oru(message(PID, "OBR|1|O1||B12P|||20240214", obx("14685-2", "1", "pmol/L")))[0]
    assert item.panel.age == 73


def test_observed_at_falls_back_to_obx_14() -> None:
    segments = ("OBR|1|O1", obx("14685-2", "150", "pmol/L", when="202403051015-0500"))
    (item,) = read_oru(message(PID, *segments))
    assert item.observed_at is not None
    assert item.observed_at.isoformat() == "2024-03-05T10:15:00-05:00"
    assert item.panel.age == 74


@pytest.mark.parametrize(
    ("birth", "note"),
    [
        ("1950", "gives no day of birth"),
        ("1950-02-15", "is not an HL7 date"),
        ("19501315", "is not an HL7 date"),
        ("20250101", "outside"),  # born after the observation
    ],
)
def test_unusable_birth_dates_leave_age_unknown(birth: str, note: str) -> None:
    (item,) = read_oru(message(f"PID|1||P1||X||{birth}|F", OBR))
    assert item.panel.age is None
    assert noted(item, note), item.notes


@pytest.mark.parametrize(("code", "sex"), [("F", "female"), ("M", "male"), ("f", "female")])
def test_sex(code: str, sex: str) -> None:
    (item,) = read_oru(message(f"PID|1||P1||X||19500215|{code}", OBR))
    assert item.panel.sex == sex


@pytest.mark.parametrize("code", ["U", "O", "A", "N"])
def test_other_sex_codes_are_unknown(code: str) -> None:
    (item,) = read_oru(message(f"PID|1||P1||X||19500215|{code}", OBR))
    assert item.panel.sex is None
    assert noted(item, f"PID-8 sex '{code}' is not F or M")


def test_bad_obr_7_is_noted() -> None:
    (item,) = read_oru(message(PID, "OBR|1|O1||X|||yesterday", obx("14685-2", "1", "pmol/L")))
    assert item.observed_at is None
    assert noted(item, "OBR-7 'yesterday' is not an HL7 date/time")


# ----------------------------------------------------------------------------- eGFR


def test_egfr_by_its_loinc_code() -> None:
    item = one(obx("98979-8", "48", "mL/min/{1.73_m2}"))  # CKD-EPI 2021 (EGFR_LOINC)
    assert item.panel.egfr == 48


def test_egfr_per_second_is_converted() -> None:
    item = one(obx("98979-8", "0.8", "mL/s/{1.73_m2}"))
    assert item.panel.egfr == pytest.approx(48)


def test_egfr_not_per_body_surface_is_not_used() -> None:
    item = one(obx("98979-8", "48", "mL/min"))
    assert item.panel.egfr is None
    assert noted(item, "egfr not used", "not per 1.73 m2")


def test_censored_egfr_read_as_b12labs_fhir_reads_it() -> None:
    assert one(obx("98979-8", ">^90", "mL/min/{1.73_m2}", vtype="SN")).panel.egfr == 90
    below = one(obx("98979-8", "<60", "mL/min/{1.73_m2}", vtype="ST"))
    assert below.panel.egfr < 60
    assert noted(below, "egfr <60 read as just below 60")


def test_preferred_egfr_equation() -> None:
    item = one(
        obx("33914-3", "50", "mL/min/{1.73_m2}"),  # MDRD
        obx("98979-8", "48", "mL/min/{1.73_m2}", set_id="2"),  # CKD-EPI 2021: preferred
    )
    assert item.panel.egfr == 48
    assert noted(item, "eGFR given 2 times: used", "OBX 2", "98979-8")


def test_race_specific_estimates_are_not_chosen_between() -> None:
    item = one(
        obx("48642-3", "50", "mL/min/{1.73_m2}"),  # MDRD among non-blacks
        obx("48643-1", "60", "mL/min/{1.73_m2}", set_id="2"),  # MDRD among blacks
    )
    assert item.panel.egfr is None
    assert noted(item, "eGFR not used", "race-specific")


# ----------------------------------------------------------------------------- framing, parsing


def test_mllp_framing_and_line_ends() -> None:
    text = message(PID, OBR, obx("14685-2", "150", "pmol/L"))
    for variant in (
        "\x0b" + text + "\x1c\r",
        text.replace("\r", "\n"),
        text.replace("\r", "\r\n"),
        "\n\n" + text.replace("\r", "\r\n\r\n"),  # blank lines between segments
    ):
        (item,) = read_oru(variant)
        assert item.panel.b12.value == 150


def test_file_of_framed_messages_in_a_batch(tmp_path: Path) -> None:
    framed = "".join(
        "\x0b" + message(f"PID|1||P{i}||X||19500215|F", OBR, obx("14685-2", str(100 * i), "pmol/L"),
                         control=f"M{i}") + "\x1c\r"
        for i in (1, 2, 3)
    )  # fmt: skip
    batch = (
        "FHS|^~\\&|LAB|HOSP\rBHS|^~\\&|LAB|HOSP\r"
        + framed.replace("\x1c\r", "\x1c\r\n")
        + "BTS|3\rFTS|1\r"
    )
    path = tmp_path / "feed.hl7"
    path.write_bytes(batch.encode())
    panels = read_oru_file(path)
    assert [(p.patient_id, p.panel.b12.value) for p in panels] == [
        ("P1", 100),
        ("P2", 200),
        ("P3", 300),
    ]


def test_escape_sequences_are_decoded_by_python_hl7() -> None:
    # v2.5.1 section 2.7.4: \F\ field separator, \S\ component separator, \T\ subcomponent
    (item,) = read_oru(message("PID|1||A\\F\\B\\S\\C\\T\\D||X||19500215|F", "OBR|1|O\\E\\1"))
    assert item.patient_id == "A|B^C&D"
    assert item.order_id == "O\\1"


def test_other_delimiters_from_msh() -> None:
    header = "MSH#@~\\&#LAB#HOSP#EHR#HOSP#20240301##ORU@R01#{control}#P#2.5.1"
    text = message(
        "PID#1##P9#", "OBR#1#O9", "OBX#1#SN#14685-2@B12@LN##<@50#pmol/L#####F", header=header
    )
    (item,) = read_oru(text)
    assert (item.patient_id, item.order_id) == ("P9", "O9")
    assert (item.panel.b12.value, item.panel.b12.censor) == (50, "<")


def test_undecodable_escape_neither_warns_nor_prints(capfd: pytest.CaptureFixture[str]) -> None:
    # python-hl7 logs and warns (a deprecated Logger.warn) on a character-set escape it
    # cannot decode; warnings are errors in this test suite
    (item,) = read_oru(message("PID|1||A\\C2842\\B\\Zfoo\\||X||19500215|F", OBR))
    assert item.patient_id == "AB"
    assert capfd.readouterr().err == ""


def test_bytes_utf8_and_cp1252() -> None:
    text = message(PID, OBR, obx("13964-2", "0.52", "µmol/L"))
    (utf8,) = read_oru(text.encode("utf-8"))
    assert utf8.panel.mma.unit == "µmol/L"
    (latin,) = read_oru(text.encode("cp1252"))
    assert latin.panel.mma.unit == "µmol/L"
    assert noted(latin, "not UTF-8", "Windows-1252")
    (given,) = read_oru(text.encode("latin-1"), encoding="latin-1")
    assert not noted(given, "UTF-8")
    with pytest.raises(Hl7Error, match="ascii"):
        read_oru(text.encode("utf-8"), encoding="ascii")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("\r\n  \x0b\x1c\r", "empty"),
        ("b12,unit\n150,pmol/L\n", "not an HL7 v2 message"),
        ("PID|1||P1\rOBR|1", "not an HL7 v2 message"),
        (message(PID).replace("ORU^R01", "ADT^A01"), "'ADT\\^A01', not ORU\\^R01"),
        (message(PID).replace("ORU^R01", "ORU^R30"), "not ORU\\^R01"),
        (message(PID, obx("14685-2", "150", "pmol/L")), "OBX 1 comes before any OBR"),
        (message(PID, OBR) + message(PID, OBR), "2 messages"),
    ],
)
def test_bad_input_raises_hl7error(text: str, match: str) -> None:
    with pytest.raises(Hl7Error, match=match) as info:
        read_oru(text)
    assert isinstance(info.value, B12LabsError)
    assert isinstance(info.value, ValueError)


def test_message_type_without_trigger_is_accepted() -> None:
    (item,) = read_oru(message(PID, OBR).replace("ORU^R01", "ORU"))
    assert item.patient_id == "PAT001"


def test_not_text_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="text or bytes"):
        read_oru(42)  # type: ignore[arg-type]


def test_file_errors_name_the_message(tmp_path: Path) -> None:
    path = tmp_path / "feed.hl7"
    path.write_text(message(PID, OBR) + message(PID, OBR, control="M2").replace("ORU^R01", "ACK"))
    with pytest.raises(Hl7Error, match=r"message 2 \(M2\)"):
        read_oru_file(path)


def test_import_b12labs_does_not_import_hl7() -> None:
    code = "import sys, b12labs; print('hl7' in sys.modules, 'b12labs.hl7' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ----------------------------------------------------------------------------- command line

FEED = [
    message(
        "PID|1||P1^^^H^MR||A^B||19500215|F",
        "OBR|1|O1||B12P|||20240301",
        obx("14685-2", "150", "pmol/L"),
        obx("13964-2", "0.52", "umol/L", set_id="2"),
        obx("2160-0", "1.1", "mg/dL", set_id="3"),
        "OBR|2|O2||B12P|||20240401",
        obx("14685-2", "<^50", "pmol/L", vtype="SN"),
        control="M1",
    ),
    message(
        "PID|1||P2^^^H^MR||C^D||19800101|M",
        "OBR|1|O3||B12P|||20240301",
        obx("2132-9", ">2000", "pg/mL", vtype="ST"),
        obx("72160-5", "20", "pmol/L", set_id="2", status="P"),
        obx("13965-9", "16", "furlongs", set_id="3"),
        control="M2",
    ),
    message(  # a correction of P1's first order
        "PID|1||P1^^^H^MR||A^B||19500215|F",
        "OBR|1|O1||B12P|||20240301",
        obx("14685-2", "400", "pmol/L", status="C"),
        control="M3",
    ),
    message(
        "PID|1||P3^^^H^MR||E^F||19700101|F",
        "OBR|1|O4||B12P|||20240301",
        obx("98979-8", "45", "mL/min/{1.73_m2}"),
        obx("13964-2", "0.31", "umol/L", set_id="2"),
        obx("14685-2", "210", "pmol/L", set_id="3", status="X"),
        control="M4",
    ),
]


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.hl7"
    path.write_bytes("".join("\x0b" + m + "\x1c\r" for m in FEED).encode())
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_scores_one_row_per_patient_order(
    capsys: pytest.CaptureFixture[str], feed: Path
) -> None:
    code, out, err = run_cli(capsys, "score", feed)
    assert code == 0, err  # docs/cli.md: 0, every row interpreted
    rows = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    panels = read_oru_file(feed)
    assert len(rows) == len(panels) == 4
    assert list(rows.columns[:3]) == ["patient_id", "order_id", "observed_at"]
    assert list(zip(rows["patient_id"], rows["order_id"], strict=True)) == [
        ("P1", "O1"), ("P1", "O2"), ("P2", "O3"), ("P3", "O4"),
    ]  # fmt: skip
    assert rows["b12"].tolist() == ["400 pmol/L", "<50 pmol/L", ">2000 pg/mL", ""]
    assert "hl7_notes" in rows.columns
    assert "4 rows read" in err
    assert "have notes" in err


def test_cli_results_equal_interpret(capsys: pytest.CaptureFixture[str], feed: Path) -> None:
    """One decision procedure: each row is what b12labs.interpret(panel) says."""
    code, out, _ = run_cli(capsys, "score", feed, "--format", "jsonl")
    assert code == 0
    rows = pd.read_json(io.StringIO(out), lines=True, dtype=False)
    for (_, row), item in zip(rows.iterrows(), read_oru_file(feed), strict=True):
        result = b12labs.interpret(item.panel)
        assert row["b12labs_status"] == result.status.value
        assert row["b12labs_findings"] == ";".join(f.code for f in result.findings)
        assert row["b12labs_next_steps"] == ";".join(s.code for s in result.next_steps)
        for analyte, marker in result.markers.items():
            assert row[f"b12labs_{analyte}_category"] == marker.category.value
            assert row[f"b12labs_{analyte}_value"] == pytest.approx(marker.value)
            assert row[f"b12labs_{analyte}_fhir"] == marker.interpretation_code.value
        if result.cb12.value is not None:
            assert row["b12labs_cb12"] == pytest.approx(result.cb12.value)
        if result.patient.egfr is not None:
            assert row["b12labs_egfr"] == pytest.approx(result.patient.egfr)
        assert row["age"] == item.panel.age
        assert (row["sex"] or None) == (item.panel.sex.value if item.panel.sex else None)


def test_cli_parquet_output(capsys: pytest.CaptureFixture[str], feed: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "score", feed, "-o", target, "--quiet")
    assert code == 0, err
    table = pd.read_parquet(target)
    assert table["order_id"].tolist() == ["O1", "O2", "O3", "O4"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("b12,unit\n150,pmol/L\n", "not an HL7 v2 message"),
        ("", "empty"),
        (FEED[0].replace("ORU^R01", "ADT^A01"), "not ORU"),
    ],
)
def test_cli_bad_feed_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / "bad.hl7"
    path.write_text(text)
    code, out, err = run_cli(capsys, "score", path)
    assert code == 2  # docs/cli.md: input errors, one line on standard error
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"b12labs: error: {path}: "), err
    assert match in err


def test_cli_without_python_hl7_is_exit_2(
    capsys: pytest.CaptureFixture[str], feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "hl7", None)  # "not installed"
    monkeypatch.delitem(sys.modules, "b12labs.hl7")
    code, _, err = run_cli(capsys, "score", feed)
    assert code == 2
    assert 'pip install "b12labs[hl7]"' in err


def test_cli_output_named_hl7_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], feed: Path, tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, "score", feed, "-o", tmp_path / "out.hl7")
    assert code == 2
    assert "--format" in err


def test_cli_help_names_hl7(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["score", "--help"])
    assert ".hl7" in capsys.readouterr().out


# ----------------------------------------------------------------------------- property

# Result ranges in each analyte's canonical unit, inside its plausible range (tests/conftest
# RANGES; creatinine 0.3 to 13.7 mg/dL as in NHANES, see _data/analytes.toml).
CANONICAL_RANGES = {
    "b12": (30.0, 3000.0, "pmol/L"),
    "holotc": (1.0, 300.0, "pmol/L"),
    "mma": (0.05, 5.0, "umol/L"),
    "hcy": (2.0, 150.0, "umol/L"),
    "folate": (1.0, 100.0, "nmol/L"),
    "creatinine": (0.3, 13.7, "mg/dL"),
}
LOINC_OF = {"b12": "14685-2", "holotc": "72160-5", "mma": "13964-2", "hcy": "13965-9",
            "folate": "14732-2", "creatinine": "2160-0"}  # fmt: skip


@st.composite
def obx_values(draw: Any) -> tuple[str, str, str, str | None, str, str]:
    """(analyte, OBX-2, OBX-5, comparator, number, unit): a result as a laboratory writes it."""
    key = draw(st.sampled_from(sorted(CANONICAL_RANGES)))
    low, high, canonical = CANONICAL_RANGES[key]
    unit = draw(st.sampled_from(b12labs.accepted_units(key)))
    value = b12labs.convert(draw(st.floats(low, high)), canonical, unit, analyte=key)
    number = f"{value:.12f}".rstrip("0").rstrip(".")  # NM has no exponent (section 2.A.47)
    comparator = draw(st.sampled_from([None, "<", "<=", ">", ">="]))
    vtype = draw(st.sampled_from(["NM", "SN", "ST"] if comparator is None else ["SN", "ST"]))
    sep = "^" if vtype == "SN" else ""  # SN: comparator ^ num1 (section 2.A.71)
    return key, vtype, f"{comparator or ''}{sep}{number}", comparator, number, unit


@given(obx_values())
def test_property_obx_values_round_trip_into_the_panel(
    drawn: tuple[str, str, str, str | None, str, str],
) -> None:
    key, vtype, text, comparator, number, unit = drawn
    item = one(obx(LOINC_OF[key], text, f"{unit}^{unit}^UCUM", vtype=vtype))
    measurement = getattr(item.panel, key)
    assert measurement is not None, item.notes
    expected = (float(number), unit, comparator)
    assert (measurement.value, measurement.unit, measurement.censor) == expected
    # and the text the command line writes for it reads back to the same Measurement
    again = Measurement.parse(_measurement_text(measurement))
    assert (again.value, again.unit, again.censor) == expected


def test_docs_example_message_reads() -> None:
    """The example of docs/hl7.md."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "hl7.md").read_text("utf-8")
    block = doc.split("```text\n", 1)[1].split("```", 1)[0]
    panels = read_oru(textwrap.dedent(block))
    assert [(p.patient_id, p.order_id) for p in panels] == [("PAT001", "ORD001")]
    assert panels[0].panel.b12 == Measurement(
        value=50, unit="pmol/L", censor="<", source=panels[0].panel.b12.source
    )
