"""The strings of the page "Is this message genuine?", French (default) and English.

The page also uses the shared strings of ``breachwatch.web.i18n.PAGE`` (skip link, footer,
language switch); the reasons' own texts live in ``reasons.toml``.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Est-ce que ce message est authentique ?",
        "skip": "Aller au contenu",
        "intro": "Vous avez reçu un SMS ou un e-mail qui dit venir de {org} ? Collez-le ici : "
        "nous vous disons s'il présente des signes d'hameçonnage, et pourquoi. Rien n'est "
        "conservé, sauf si vous choisissez de le signaler.",
        "text": "Texte du message (SMS ou e-mail)",
        "text_hint": "Pour un e-mail, le plus sûr est de le coller avec ses en-têtes "
        "(« Afficher l'original » dans votre messagerie).",
        "eml": "Ou le fichier de l'e-mail (.eml)",
        "eml_hint": "Enregistrez l'e-mail depuis votre messagerie (« Télécharger le message »), "
        "puis choisissez le fichier.",
        "kind": "Type de message",
        "kind_auto": "Je ne sais pas",
        "kind_sms": "SMS",
        "kind_email": "E-mail",
        "sender": "Numéro ou nom de l'expéditeur du SMS (facultatif)",
        "sender_hint": "Tel qu'il s'affiche sur votre téléphone, par exemple 07 56 12 34 56.",
        "submit": "Vérifier le message",
        "result": "Résultat",
        "verdict_phishing": "Ce message est très probablement une tentative d'hameçonnage",
        "advice_phishing": "Ne cliquez sur aucun lien, n'appelez aucun numéro qu'il donne, ne "
        "répondez pas et ne communiquez aucune information. Signalez-le ci-dessous, puis "
        "supprimez-le.",
        "verdict_suspicious": "Ce message présente des signes suspects",
        "advice_suspicious": "Ne donnez aucune information et ne payez rien. En cas de doute, "
        "contactez {org} par les moyens habituels que vous cherchez vous-même, jamais par un lien "
        "ou un numéro de ce message.",
        "verdict_verified": "Ce message est authentique : son code d'authenticité est valide",
        "advice_verified": "{org} ne vous demandera jamais de mot de passe, de code reçu par SMS, "
        "de coordonnées bancaires ni de paiement.",
        "verdict_genuine": "Aucun signe d'hameçonnage trouvé",
        "advice_genuine": "Sans code d'authenticité valide, l'origine de ce message n'est pas "
        "prouvée : restez prudent, et ne donnez jamais de mot de passe, de code reçu par SMS ni "
        "de coordonnées bancaires.",
        "score": "Score de risque : {score} sur 100",
        "reasons": "Ce que nous avons relevé",
        "no_reasons": "Rien dans ce message ne correspond à un signe connu d'hameçonnage.",
        "where": "Où",
        "colon": "\u00a0:",
        "field_body": "texte",
        "field_subject": "objet",
        "field_from": "expéditeur",
        "field_reply-to": "adresse de réponse",
        "field_return-path": "adresse de retour",
        "field_sender": "expéditeur du SMS",
        "field_url": "cible d'un lien",
        "field_header": "en-tête",
        "severity_critical": "Très grave",
        "severity_high": "Grave",
        "severity_medium": "Moyen",
        "severity_low": "Faible",
        "severity_info": "Information",
        "severity_trust": "Rassurant",
        "report": "Signaler ce message",
        "report_hint": "Le message sera transmis à {org} pour repérer les vagues d'hameçonnage, "
        "prévenir les autres personnes et faire fermer les sites frauduleux. Nous ne gardons ni "
        "votre nom ni votre adresse IP.",
        "spam_33700": "Vous pouvez aussi transférer un SMS frauduleux au 33700, le service "
        "gratuit des opérateurs.",
        "reported_title": "Merci, le message est signalé",
        "reported": "Votre signalement nous aide à prévenir les autres personnes et à faire "
        "fermer les sites frauduleux. Vous pouvez maintenant supprimer ce message.",
        "reported_again": "Vous aviez déjà signalé ce message. Merci.",
        "again": "Vérifier un autre message",
        "err_title": "Erreur",
        "err_empty": "Collez le texte du message, ou choisissez un fichier .eml.",
        "err_both": "Donnez soit le texte, soit un fichier .eml, pas les deux.",
        "err_unreadable": "Ce contenu ne peut pas être lu comme un SMS ou un e-mail (vide, "
        "fichier qui n'est pas du texte, ou encodage inconnu).",
        "err_too_large": "Ce message est trop volumineux : 2 Mo au plus.",
        "err_form": "Le formulaire envoyé est incomplet ou invalide. Recommencez depuis la page.",
    },
    "en": {
        "title": "Is this message genuine?",
        "skip": "Skip to the content",
        "intro": "Did you receive an SMS or an e-mail that says it comes from {org}? Paste it "
        "here: we tell you whether it shows signs of phishing, and why. Nothing is kept unless "
        "you choose to report it.",
        "text": "Text of the message (SMS or e-mail)",
        "text_hint": "For an e-mail, the answer is most reliable when you paste it with its "
        'headers ("Show original" in your mail app).',
        "eml": "Or the e-mail file (.eml)",
        "eml_hint": 'Save the e-mail from your mail app ("Download message"), then choose the '
        "file.",
        "kind": "Kind of message",
        "kind_auto": "I don't know",
        "kind_sms": "SMS",
        "kind_email": "E-mail",
        "sender": "Number or name of the SMS sender (optional)",
        "sender_hint": "As your phone shows it, for example +33 7 56 12 34 56.",
        "submit": "Check the message",
        "result": "Result",
        "verdict_phishing": "This message is very probably a phishing attempt",
        "advice_phishing": "Do not click any link, do not call any number it gives, do not "
        "reply and do not give any information. Report it below, then delete it.",
        "verdict_suspicious": "This message shows suspicious signs",
        "advice_suspicious": "Do not give any information and do not pay anything. If in doubt, "
        "contact {org} the usual way, which you look up yourself: never through a link or a "
        "number in this message.",
        "verdict_verified": "This message is genuine: its authenticity code is valid",
        "advice_verified": "{org} will never ask you for a password, a code received by SMS, "
        "bank details or a payment.",
        "verdict_genuine": "No sign of phishing found",
        "advice_genuine": "Without a valid authenticity code, the origin of this message is not "
        "proven: stay careful, and never give a password, a code received by SMS or bank "
        "details.",
        "score": "Risk score: {score} out of 100",
        "reasons": "What we found",
        "no_reasons": "Nothing in this message matches a known sign of phishing.",
        "where": "Where",
        "colon": ":",
        "field_body": "text",
        "field_subject": "subject",
        "field_from": "sender",
        "field_reply-to": "reply-to address",
        "field_return-path": "return path",
        "field_sender": "SMS sender",
        "field_url": "target of a link",
        "field_header": "header",
        "severity_critical": "Critical",
        "severity_high": "High",
        "severity_medium": "Medium",
        "severity_low": "Low",
        "severity_info": "Information",
        "severity_trust": "Reassuring",
        "report": "Report this message",
        "report_hint": "The message is sent to {org} to spot phishing waves, warn other people "
        "and have the fraudulent sites taken down. We keep neither your name nor your IP "
        "address.",
        "spam_33700": "In France you can also forward a fraudulent SMS to 33700, the operators' "
        "free service.",
        "reported_title": "Thank you, the message is reported",
        "reported": "Your report helps us warn other people and have the fraudulent sites "
        "taken down. You can now delete this message.",
        "reported_again": "You had already reported this message. Thank you.",
        "again": "Check another message",
        "err_title": "Error",
        "err_empty": "Paste the text of the message, or choose an .eml file.",
        "err_both": "Give either the text or an .eml file, not both.",
        "err_unreadable": "This cannot be read as an SMS or an e-mail (empty, not a text file, "
        "or an unknown encoding).",
        "err_too_large": "This message is too large: 2 MB at most.",
        "err_form": "The form sent is incomplete or invalid. Start again from the page.",
    },
}
