"""Lures, French and English, and quotes of leaked data, matched on accent-folded text.

Each lure family (urgency, payment, credentials...) is a list of patterns on folded text; all
families are joined into one regex scanned once per message (``LURE_RE``), so adding a pattern
costs little. A family counts once in the score however often it matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import iban as stdnum_iban

_YOUR = r"(?:votre|vos|ton|tes|your|ta|le|la|les|l')"

LURES: dict[str, tuple[str, ...]] = {
    "lure_urgency": (
        r"urgent\w*",
        r"urgence",
        r"immediate?ment",
        r"sans (?:plus attendre|delai|tarder)",
        r"dans les plus brefs delais",
        r"(?:sous|dans les|avant|d'ici|within|in the next) \d{1,2} ?(?:h\b|heures?|hours?|jours?)",
        r"(?:sous|dans les|within) (?:24|48|72) ?h",
        r"au plus (?:vite|tard (?:le|ce|demain|aujourd'hui))",
        r"des (?:que possible|maintenant|aujourd'hui)",
        r"dernier (?:rappel|avis|delai|jour|avertissement)",
        r"derniere (?:relance|chance|notification|mise en demeure|echeance)",
        r"avant (?:minuit|ce soir|demain|la fin de (?:la journee|journee))",
        r"expir\w* (?:aujourd'hui|ce soir|demain|bientot|dans|today|soon|tonight|in \d)",
        r"(?:il ne vous reste|il vous reste) (?:plus que |que )?\d+",
        r"faute de (?:quoi|reponse|regularisation|paiement)",
        r"a defaut de (?:reponse|regularisation|paiement|mise a jour)",
        r"action (?:requise|immediate|required|needed)",
        r"(?:as soon as possible|asap|right away|without delay|act now)",
        r"final (?:notice|reminder|warning)",
        r"last (?:chance|reminder|warning|notice)",
        r"(?:today|tonight) only",
        r"delai de (?:24|48|72) ?h",
        r"arrive(?:nt)? (?:bientot )?a (?:expiration|echeance)",
        r"(?:will|is about to|are about to) expire",
    ),
    "lure_payment": (
        r"(?:regl|pay|acquitt|regularis)\w* (?:des |les |vos |de |d'|the |your |a )?"
        r"(?:frais|somme|montant|reste|solde|fee|charge|amount|balance|droits?|taxe|penalite)\w*",
        r"frais (?:de|d') ?(?:livraison|reexpedition|port|dossier|traitement|douane|gestion|"
        r"expedition|envoi|reactivation|deblocage|activation|renouvellement|stockage)",
        r"(?:des|de|petits?) frais",
        r"(?:payer|regler|pay|settle) (?:\d|en ligne|online|now|maintenant|immediatement)",
        r"(?:effectuer|proceder au|finaliser le|valider le|confirmer le) (?:paiement|reglement)",
        r"(?:trop[- ]percu|indu|dette|impaye|unpaid|outstanding|overdue|arriere)\w*",
        r"(?:customs|delivery|shipping|redelivery|small|processing|handling) (?:fee|charge|duty)s?",
        r"(?:make|complete|confirm) (?:a |the |your )?payment",
        r"(?:payer|regler|pay) (?:une|la|ma|cette|a|the|my|this) (?:facture|bill|invoice)",
    ),
    "lure_bank_details": (
        r"coordonnees bancaires",
        r"\brib\b",
        r"releve d'identite bancaire",
        r"\biban\b",
        r"numero de (?:carte|compte)",
        r"carte (?:bancaire|bleue|de credit)",
        r"cryptogramme",
        r"date d'expiration",
        r"code (?:de securite|secret) de (?:votre|ta) carte",
        r"(?:bank|banking|card|payment|billing) (?:details|information|info)",
        r"(?:card|account) number",
        r"(?:credit|debit) card",
        r"\b(?:cvv|cvc|sort code)\b",
        r"expiry date",
        r"(?:operation|transaction|paiement|virement)s? (?:suspecte?|frauduleu\w*|inhabituel\w*)",
        r"(?:suspicious|unusual|fraudulent) (?:transaction|payment|activity)",
        r"(?:conseiller|service) (?:bancaire|fraude|anti-?fraude)",
        r"(?:faire|mettre) (?:opposition|un virement)",
    ),
    "lure_credentials": (
        # "Your password was changed" is a notice, not a request.
        r"mots? de passe(?! (?:a|ont) ete (?:modifie|change|reinitialise|mis a jour))",
        r"(?:vos |tes |your |ses |des |les )identifiants",
        r"code (?:recu|que vous (?:allez recevoir|avez recu|recevrez|venez de recevoir)|"
        r"d'acces|confidentiel|secret)",
        r"(?:communiqu|transmett|donn|indiqu|envoy|saisi|entr|repond)\w* "
        r"(?:nous |moi |-nous |-moi )?(?:avec )?(?:le |ce |votre |ton |du )code",
        r"code (?:a|de) \d chiffres",
        r"(?:password(?! (?:has been|was) (?:changed|reset|updated))|passcode|pin code|"
        r"login details|credentials)",
        r"(?:\d|six|four)[- ]digit code",
        r"code (?:you (?:just )?(?:received|got)|we (?:just )?sent)",
        r"(?:send|give|tell|read|forward|share) (?:me|us) (?:the|your|that|this) "
        r"(?:\d[- ]digit )?code",
        r"(?:validez?|confirmez?|verifiez?|authentifiez?|confirm|verify|validate) "
        r"(?:votre|ton|your) (?:identite|identity|compte|account)",
        r"identifiez[- ]vous",
    ),
    "lure_fake_alert": (
        r"si (?:vous n'(?:en )?etes pas a l'origine|ce n'est pas vous)",
        r"if (?:this|it) (?:was not|wasn't|is not|isn't) you",
        r"(?:operation|transaction|paiement|achat|connexion|appareil|prelevement|virement|payment|"
        r"purchase|sign-in|login|device)[^.!?\n]{0,40}"
        r"(?:detecte|detected|ajoute|added|en cours|pending)",
        r"(?:compte|espace|epargne) (?:securise|protege)",
        r"(?:safe|secure) account",
    ),
    "lure_new_number": (
        r"(?:mon|my|ce|this) (?:nouveau )?(?:numero|number) (?:provisoire|temporaire)",
        r"(?:voici|c'est|this is) mon nouveau (?:numero|portable|tel)",
        r"this is my new (?:number|phone)",
        r"(?:j'ai|i have|i've) (?:casse|perdu|fait tomber|broken|lost|dropped) (?:mon|my) "
        r"(?:tel|telephone|portable|phone|mobile)",
        r"(?:mon|my) (?:tel|telephone|portable|phone) (?:est|is) (?:en panne|casse|hs|broken|dead)",
    ),
    "lure_threat": (
        r"radi(?:ation|e|ee|er)\b",
        r"suspen(?:du|due|dus|dues|sion|dre|ded|d)\b",
        r"(?:sera|seront|va etre|risque d'etre|will be|has been|have been) "
        r"(?:bloque|bloquee|supprime|supprimee|desactive|desactivee|cloture|cloturee|annule|"
        r"annulee|interrompu|interrompue|closed|blocked|deleted|deactivated|terminated|cancelled|"
        r"locked|restricted)",
        r"(?:perte|perdre|perdrez|lose|loss) (?:de |d')?(?:vos|votre|tes|ton|your|all|the)? ?"
        r"(?:droits|allocations?|indemnites|aides|prestations|benefits|access|account|compte)",
        r"(?:interruption|arret|suppression|gel|blocage) (?:de |des |du )?(?:vos |votre )?"
        r"(?:versements?|paiements?|droits|allocations?|indemnites|aides|prestations|compte)",
        r"(?:poursuites|procedure) (?:judiciaires?|penales?)",
        r"(?:legal action|prosecution|penalt(?:y|ies))",
        r"\b(?:majoration|majoree|huissier|sanctions?)\b",
    ),
    "lure_update_file": (
        rf"(?:mettre|mettez|mets|met|remettre) a jour {_YOUR}? ?(?:dossier|informations|infos|"
        r"coordonnees|donnees|profil|situation|compte|carte|espace|adresse|dossier)",
        r"mise a jour (?:de |du |des )?(?:votre |vos |ton |tes )?(?:dossier|informations|"
        r"coordonnees|donnees|profil|situation|compte|carte vitale|adresse)",
        rf"(?:completer|completez|finaliser|finalisez|regulariser|regularisez|verifier|verifiez|"
        rf"confirmer|confirmez|actualiser|actualisez) {_YOUR} ?(?:dossier|informations|infos|"
        r"coordonnees|donnees|profil|situation|demande|inscription|adresse)",
        r"(?:update|verify|confirm|complete|review) (?:your |the )?"
        r"(?:details|file|information|info|account|profile|address|records|data)",
        r"dossier (?:incomplet|en attente|non a jour|bloque)",
    ),
    "lure_money_waiting": (
        r"(?:versement|paiement|virement|remboursement)s?[^.!?\n]{0,30}(?:en attente|bloques?|"
        r"suspendus?|en suspens|retenus?)",
        r"rembourse\w*",
        r"(?:aide|prime|allocation|indemnite)s? (?:exceptionnelle|de \d|d'un montant|en attente)",
        r"vous (?:avez droit a|etes eligible|beneficiez d'une?)",
        r"(?:a percevoir|a recuperer|vous attend)",
        r"(?:montant|somme) de \d",
        r"(?:refund|reimburse\w*|compensation|rebate|grant|cashback)",
        r"(?:you are|you're) (?:eligible|entitled)",
        r"(?:payment|transfer)s? (?:pending|on hold|awaiting)",
        r"claim (?:your|it|now)",
        r"(?:tax|benefit) (?:refund|rebate)",
    ),
    "lure_parcel": (
        r"colis",
        r"avis de passage",
        r"(?:livraison|delivery) (?:a echoue|echouee|impossible|en attente|suspendue|failed|"
        r"attempt|on hold)",
        r"(?:n'a pas pu|could not|couldn't) (?:etre )?(?:livre|delivered|be delivered)",
        r"(?:reprogrammer|replanifier|reschedule) (?:la |votre |your )?(?:livraison|delivery)",
        r"(?:parcel|package|shipment)s?\b",
        r"point relais",
        r"adresse (?:de livraison )?(?:incomplete|incorrecte|erronee)",
        r"(?:suivi|tracking) (?:de |du |of )?(?:votre |your )?"
        r"(?:colis|commande|envoi|parcel|order)",
    ),
    "lure_fine": (
        r"amendes?\b",
        r"contravention",
        r"exces de vitesse",
        r"infraction",
        r"avis de (?:contravention|paiement)",
        r"stationnement (?:impaye|irregulier)",
        r"peages? (?:impayes?|non regles?)",
        r"(?:a |an |the |your |unpaid |traffic |parking )fine\b",
        r"(?:speeding|parking|toll) (?:ticket|fine|charge|notice)",
        r"unpaid tolls?",
    ),
    "lure_health_card": (
        r"carte vitale",
        r"\bameli\b",
        r"assurance maladie",
        r"\bcpam\b",
        r"carte europeenne d'assurance",
        r"tiers payant",
        r"(?:health|insurance) card",
    ),
    "lure_training_account": (
        r"\bcpf\b",
        r"compte (?:personnel de )?formation",
        r"droits? (?:a la )?formation",
        r"(?:heures|credits?|euros?|solde) (?:de |d')?formation",
        r"training (?:account|credits?)",
    ),
    "lure_click": (
        r"cliqu\w* (?:ici|sur|le lien|ce lien)",
        r"(?:suivez|ouvrez|utilisez) (?:ce|le) lien",
        r"lien (?:ci-dessous|suivant|securise)",
        r"(?:click|tap) (?:here|below|the link|this link|on)",
        r"(?:follow|open|use) (?:this|the) link",
        r"(?:rendez-vous|connectez-vous|rdv) (?:sur|sur le site|via)",
        r"(?:log|sign) ?in (?:to|at|here|now)",
    ),
}
# Genuine notices say what they will never ask: a lure in a negated sentence is no lure. "Ne
# tardez pas, réglez..." and "don't miss" push to act: they negate nothing.
NEGATABLE = {"lure_payment", "lure_bank_details", "lure_credentials", "lure_click"}
_PUSHES = r"(?:tard|perd|manqu|attend|oubli|hesit|rat|laiss|ignor|miss|wait|lose|delay|forget)"
_NEGATION_BEFORE_RE = re.compile(
    r"\b(?:jamais|aucune?|never|nor|ni)\b"
    rf"|\b(?:ne |n')(?!{_PUSHES})(?:[\w']+ ){{0,3}}?[\w']*? ?(?:pas|plus|jamais)\b"
    rf"|(?:\bnot|n't) (?!{_PUSHES})"
)
_NEGATION_AFTER_RE = re.compile(
    r"[^.!?\n]{0,25}?(?:\bn'\w+ (?:pas|jamais|ete)|\bne \w+ (?:pas|jamais)|\b(?:not|never)\b|n't\b)"
)
_SENTENCE_END = re.compile(r"[.!?\n]")
NEGATION_WINDOW = 60

FAMILIES = {code: re.compile("|".join(patterns)) for code, patterns in LURES.items()}
# One scan finds where lures start: every lure starts at a word boundary (stated once up front,
# it lets the regex engine skip other positions cheaply), and the lookahead consumes nothing, so
# lures that overlap ("unpaid" and "unpaid fine") are all seen. At the few positions where one
# lure starts, the other families are tried too.
LURE_RE = re.compile(
    r"\b(?="
    + "|".join(f"(?P<{code}>{'|'.join(patterns)})" for code, patterns in LURES.items())
    + ")"
)

# --- Quotes of leaked data ---
_DATE = r"\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}"
LEAK_RE = re.compile(
    r"(?P<leak_nir>(?<!\d)[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2[ab])[ .]?"
    r"\d{3}[ .]?\d{3}(?:[ .]?\d{2})?(?!\d))"
    r"|(?P<leak_iban>\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\b)"
    rf"|(?P<leak_birth_date>(?:ne|nee|ne\(e\)|date de naissance|born(?: on)?|date of birth|"
    rf"dob)\s*(?:le|:|on)?\s*{_DATE})"
    r"|(?P<leak_agency_id>(?:identifiant|\bid)(?: (?:france travail|pole emploi|demandeur "
    r"d'emploi))?|(?:n°|numero|no\.?) (?:de |d')?(?:demandeur d'emploi|allocataire|dossier "
    r"(?:france travail|pole emploi)))(?: ?:)? ?\d{7,8}[a-z0-9]?\b"
)


@dataclass(frozen=True)
class Match:
    code: str
    start: int
    end: int


def find_lures(folded: str) -> list[Match]:
    found = []
    covered: dict[str, int] = {}
    for m in LURE_RE.finditer(folded):
        start = m.start()
        for code, end in _lures_at(folded, start, m):
            if start < covered.get(code, -1):
                continue  # inside a longer match of the same family
            covered[code] = end
            if code in NEGATABLE and negated(folded, start, end):
                continue
            found.append(Match(code, start, end))
    return found


def _lures_at(folded: str, start: int, first: re.Match[str]) -> list[tuple[str, int]]:
    code = first.lastgroup or ""
    at = [(code, first.end(code))]
    for other, family in FAMILIES.items():
        if other != code and (m := family.match(folded, start)):
            at.append((other, m.end()))
    return at


def negated(folded: str, start: int, end: int) -> bool:
    """A negation in the same sentence, shortly before the lure (or right after: "n'a pas")."""
    before = folded[max(0, start - NEGATION_WINDOW) : start]
    cut = max((m.end() for m in _SENTENCE_END.finditer(before)), default=0)
    if _NEGATION_BEFORE_RE.search(before, cut):
        return True
    return _NEGATION_AFTER_RE.match(folded, end) is not None


def find_leaks(folded: str) -> list[Match]:
    found = []
    for m in LEAK_RE.finditer(folded):
        code = m.lastgroup or ""
        if _plausible_leak(code, m.group()):
            found.append(Match(code, m.start(), m.end()))
    return found


def _plausible_leak(code: str, text: str) -> bool:
    if code == "leak_nir":
        return _valid_nir(text)
    if code == "leak_iban":
        return stdnum_iban.is_valid(text.upper())
    return True


def _valid_nir(text: str) -> bool:
    """Thirteen characters (Corsica's 2A/2B read as 19/18 for the key) and, if given, the key."""
    compact = text.replace(" ", "").replace(".", "").upper()
    body, key = compact[:13], compact[13:]
    numeric = body.replace("2A", "19").replace("2B", "18")
    if not numeric.isdigit() or len(body) != 13:
        return False
    if not key:
        # 13 digits alone are too common (order and tracking numbers): only with a valid key.
        return False
    return 97 - int(numeric) % 97 == int(key)
