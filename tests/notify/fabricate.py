"""A workspace with N affected people made directly in SQL: seconds for a million people.

The notify tests and benchmark need many affected people with controlled contacts, not the
linkage that finds them (tested elsewhere): registry records and ``affected`` rows are written
as the linkage would leave them. Person ``i`` (record_id ``P<i>``, registry uid ``1000 + i``):

- an e-mail ``p<i>@example.net`` unless ``i % 10 == 9`` (10 % without);
- a mobile ``+336<8 digits>`` when ``i % 5 == 0`` or ``i % 10 == 9``; a landline otherwise;
- a postal address unless ``i % 20 == 19``: people with ``i % 20 == 19`` have no e-mail, no
  mobile (a landline) and no address: unreachable;
- language ``en`` (column ``langue``) when ``i % 4 == 1``;
- leaked classes: names, e-mail, phone, address, NIR and date of birth (identity-fraud risk).
"""

from __future__ import annotations

import datetime as dt

from breachwatch.store.workspace import Workspace

REGISTRY = "registry"
LEAK = "agency-test"
SOURCE_ID = 1


def fabricate(ws: Workspace, people: int, leak: str = LEAK) -> None:
    con = ws.con
    now = dt.datetime(2026, 11, 1)
    for name, role in ((REGISTRY, "registry"), (leak, "leak")):
        con.execute(
            "INSERT INTO breaches (name, role, created_at, updated_at, disclosed_on) "
            "VALUES (?, ?, ?, ?, ?)",
            [name, role, now, now, dt.date(2026, 3, 1) if role == "leak" else None],
        )
    con.execute(
        """INSERT INTO sources VALUES (?, ?, 'registry.csv', 'x', 'csv', 'utf-8', ';', ?, ?, 0,
           0, 1, '[]', ['id', 'langue'], ?, 0.0, NULL)""",
        [SOURCE_ID, REGISTRY, people, people, now],
    )
    con.execute(
        f"""
        INSERT INTO records (record_uid, breach, source_id, line, record_no, raw, record_id,
            record_id_valid, first_name, first_name_valid, last_name, last_name_valid,
            email, email_valid, phone, phone_valid, postal_address, postal_address_valid,
            postal_code, postal_code_valid, city, city_valid)
        SELECT 1000 + i, '{REGISTRY}', {SOURCE_ID}, i + 2, i + 1,
               ['P' || i, CASE WHEN i % 4 = 1 THEN 'EN' ELSE 'fr-FR' END],
               'P' || i, true,
               CASE i % 3 WHEN 0 THEN 'Éloïse' WHEN 1 THEN 'Jean' ELSE 'Zoë' END, true,
               'Dupré-' || i, true,
               CASE WHEN i % 10 <> 9 THEN 'p' || i || '@example.net' END,
               CASE WHEN i % 10 <> 9 THEN true END,
               CASE WHEN i % 5 = 0 OR (i % 10 = 9 AND i % 20 <> 19)
                    THEN '+336' || lpad((i % 100000000)::VARCHAR, 8, '0')
                    ELSE '+331' || lpad((i % 100000000)::VARCHAR, 8, '0') END,
               true,
               CASE WHEN i % 20 <> 19 THEN i || ' rue des Lilas' END,
               CASE WHEN i % 20 <> 19 THEN true END,
               '75011', true, 'Paris', true
        FROM range({people}) t(i)
        """
    )
    con.execute(
        f"""
        INSERT INTO affected
        SELECT '{leak}', 'P' || i, 1000 + i,
               ['first_name', 'last_name', 'email', 'phone', 'postal_address', 'nir',
                'date_of_birth'],
               1.0, 'nir', [], ?
        FROM range({people}) t(i)
        """,
        [now],
    )


def expected_channel(i: int) -> str | None:
    """The first channel of person ``i`` with the default preference email > sms > letter."""
    if i % 10 != 9:
        return "email"
    if i % 20 != 19:
        return "sms"
    return None
