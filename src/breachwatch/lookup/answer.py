"""The answer a person receives after a self-check, in French or English.

It says what leaked for them (data classes, never the values), what was already out from earlier
leaks, the risks with concrete advice, who to contact; it contains no link asking for an action,
so it cannot be mistaken for, or reused as, the phishing that follows a leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from breachwatch.risk.rules import Rule, load_rules
from breachwatch.types import DATA_CLASS_LABELS, DataClass

LANGS = ("fr", "en")
LEVEL_LABELS = {
    "high": ("risque élevé", "high risk"),
    "medium": ("risque moyen", "medium risk"),
    "low": ("risque faible", "low risk"),
}


@dataclass(frozen=True)
class Finding:
    breach: str
    payload: dict[str, Any]


def class_label(name: str, lang: str) -> str:
    try:
        fr, en = DATA_CLASS_LABELS[DataClass(name)]
    except ValueError:
        return name
    return fr if lang == "fr" else en


_TEXT = {
    "fr": {
        "subject": "Résultat de votre vérification — fuite de données {org}",
        "hello": "Bonjour,",
        "asked": "Vous (ou quelqu'un utilisant cette coordonnée) avez demandé si vos données "
        "figurent dans la fuite de données de {org}.",
        "found": "Oui : des données vous concernant figurent dans la fuite « {breach} ».",
        "leaked": "Ce qui a fuité pour vous :",
        "earlier": "Déjà exposé lors de fuites antérieures : {items}.",
        "risks": "Ce que cela permet à un fraudeur, et que faire :",
        "risks_short": "Risques : {names}.",
        "norisk": "Aucun risque particulier n'a été identifié pour cette combinaison de données.",
        "notfound": "Nous n'avons trouvé aucune donnée associée à cette coordonnée dans les "
        "fuites que nous avons analysées.",
        "never": "{org} ne vous demandera jamais votre mot de passe, un code reçu par SMS, vos "
        "coordonnées bancaires ni un paiement par e-mail, SMS ou téléphone. Ce message ne "
        "contient aucun lien.",
        "dpo": "Pour toute question : délégué à la protection des données, {dpo}.",
        "ignore": "Si vous n'avez pas fait cette demande, vous pouvez ignorer ce message.",
    },
    "en": {
        "subject": "Your check result — {org} data breach",
        "hello": "Hello,",
        "asked": "You (or someone using this contact) asked whether your data is in the {org} "
        "data breach.",
        "found": "Yes: data about you is in the breach “{breach}”.",
        "leaked": "What leaked about you:",
        "earlier": "Already exposed in earlier leaks: {items}.",
        "risks": "What a fraudster can do with it, and what to do:",
        "risks_short": "Risks: {names}.",
        "norisk": "No particular risk was identified for this combination of data.",
        "notfound": "We found no data linked to this contact in the breaches we analysed.",
        "never": "{org} will never ask you for your password, a code received by SMS, your "
        "bank details or a payment by e-mail, SMS or phone. This message contains no link.",
        "dpo": "Questions: data protection officer, {dpo}.",
        "ignore": "If you did not ask for this check, you can ignore this message.",
    },
}


def compose(
    findings: list[Finding],
    lang: str,
    *,
    organisation: str,
    dpo: str,
    rules: list[Rule] | None = None,
    short: bool = False,
) -> tuple[str, str]:
    """(subject, text). ``short`` gives the SMS form: classes and risk names, no advice."""
    t = _TEXT[lang if lang in LANGS else "fr"]
    rules_by_id = {r.id: r for r in (rules if rules is not None else load_rules())}
    fmt = {"org": organisation, "dpo": dpo}
    lines = [] if short else [t["hello"], "", t["asked"].format(**fmt), ""]
    if not findings:
        lines.append(t["notfound"])
    for f in findings:
        p = f.payload
        lines.append(t["found"].format(breach=f.breach))
        classes = [class_label(c, lang) for c in p.get("classes", [])]
        lines.append(f"{t['leaked']} {', '.join(classes)}.")
        earlier = sorted(
            {
                class_label(e["class"], lang)
                for e in p.get("exposure", [])
                if not e.get("added") and any(b != f.breach for b in e.get("breaches", []))
            }
        )
        if earlier:
            lines.append(t["earlier"].format(items=", ".join(earlier)))
        risks = [rules_by_id[r] for r in p.get("risks", []) if r in rules_by_id]
        if short:
            if risks:
                names = ", ".join(r.name_fr if lang == "fr" else r.name_en for r in risks)
                lines.append(t["risks_short"].format(names=names))
            continue
        lines.append("")
        if risks:
            lines.append(t["risks"])
            for r in risks:
                name, advice = (
                    (r.name_fr, r.advice_fr) if lang == "fr" else (r.name_en, r.advice_en)
                )
                fr, en = LEVEL_LABELS.get(r.level, (r.level, r.level))
                level = fr if lang == "fr" else en
                sep = " :" if lang == "fr" else ":"
                lines.append(f"- {name} ({level}){sep} {advice}")
        else:
            lines.append(t["norisk"])
        lines.append("")
    lines.append(t["never"].format(**fmt))
    if not short:
        lines += [t["dpo"].format(**fmt), "", t["ignore"]]
    return t["subject"].format(**fmt), "\n".join(lines)
