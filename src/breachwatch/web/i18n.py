"""The strings of the public pages, French (default) and English."""

from __future__ import annotations

PAGE: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Vérifier si mes données ont fuité",
        "skip": "Aller au formulaire",
        "intro": "{org} a été victime d'une fuite de données. Indiquez une adresse e-mail ou un "
        "numéro de téléphone, ou votre numéro de sécurité sociale avec votre date de naissance. "
        "Le résultat vous est envoyé à cette adresse ou à ce numéro, jamais affiché ici.",
        "contact_legend": "Par adresse e-mail ou téléphone",
        "contact": "Adresse e-mail ou numéro de téléphone",
        "contact_hint": "Exemple : prenom.nom@example.org ou 06 12 34 56 78",
        "contact_hint_email": "Exemple : prenom.nom@example.org",
        "nir_legend": "Ou par numéro de sécurité sociale",
        "nir": "Numéro de sécurité sociale (15 chiffres)",
        "birth_date": "Date de naissance",
        "nir_hint": "Le résultat est envoyé aux coordonnées que nous avons pour vous.",
        "submit": "Vérifier",
        "sent_title": "Demande reçue",
        "sent": "Si ces données figurent dans nos fichiers, un message est en route. "
        "Il arrive en général en quelques minutes.",
        "never": "Nous ne vous demanderons jamais de mot de passe, de code reçu par SMS, de "
        "coordonnées bancaires ni de paiement. Nos messages ne contiennent aucun lien.",
        "again": "Faire une autre vérification",
        "public_title": "Fuites publiques où figure cette donnée",
        "public_leaked": "Données concernées",
        "err_empty": "Indiquez une adresse e-mail, un numéro de téléphone, ou un numéro de "
        "sécurité sociale avec la date de naissance.",
        "err_one_only": "Indiquez soit une adresse e-mail ou un téléphone, soit un numéro de "
        "sécurité sociale, pas les deux.",
        "err_bad_contact": "Cette valeur est trop longue.",
        "err_bad_email": "Cette adresse e-mail n'est pas valide.",
        "err_bad_phone": "Ce numéro de téléphone n'est pas valide.",
        "err_bad_nir": "Ce numéro de sécurité sociale ou cette date n'est pas valide.",
        "err_need_birth_date": "Indiquez aussi votre date de naissance.",
        "err_channel": "La vérification par ce moyen n'est pas disponible pour le moment.",
        "err_title": "Erreur",
        "limited_title": "Trop de demandes",
        "limited": "Trop de demandes ont été faites. Réessayez dans {seconds} secondes.",
        "busy": "Le service est très sollicité. Réessayez dans quelques minutes.",
        "other_lang": "English",
    },
    "en": {
        "title": "Check whether my data leaked",
        "skip": "Skip to the form",
        "intro": "{org} suffered a data breach. Enter an e-mail address or a phone number, or "
        "your social security number with your date of birth. The result is sent to that "
        "address or number, never shown here.",
        "contact_legend": "By e-mail address or phone",
        "contact": "E-mail address or phone number",
        "contact_hint": "Example: first.last@example.org or +33 6 12 34 56 78",
        "contact_hint_email": "Example: first.last@example.org",
        "nir_legend": "Or by social security number",
        "nir": "Social security number (15 digits)",
        "birth_date": "Date of birth",
        "nir_hint": "The result is sent to the contacts we hold for you.",
        "submit": "Check",
        "sent_title": "Request received",
        "sent": "If this is in our records, a message is on its way. It usually arrives "
        "within a few minutes.",
        "never": "We will never ask you for a password, a code received by SMS, bank details "
        "or a payment. Our messages contain no link.",
        "again": "Make another check",
        "public_title": "Public breaches that include this data",
        "public_leaked": "Data concerned",
        "err_empty": "Enter an e-mail address, a phone number, or a social security number with "
        "the date of birth.",
        "err_one_only": "Enter either an e-mail address or phone, or a social security number, "
        "not both.",
        "err_bad_contact": "This value is too long.",
        "err_bad_email": "This e-mail address is not valid.",
        "err_bad_phone": "This phone number is not valid.",
        "err_bad_nir": "This social security number or date is not valid.",
        "err_need_birth_date": "Enter your date of birth as well.",
        "err_channel": "Checking this way is not available at the moment.",
        "err_title": "Error",
        "limited_title": "Too many requests",
        "limited": "Too many requests were made. Try again in {seconds} seconds.",
        "busy": "The service is very busy. Try again in a few minutes.",
        "other_lang": "Français",
    },
}


def lang_of(value: str | None) -> str:
    return "en" if value == "en" else "fr"
