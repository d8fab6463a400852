"""The keywords engage answers with no configuration: STOP, START, HELP, and the answer to a word
nobody defined (off until an operator turns it on), each with its confirmation as a template per
language, editable on the templates page like any other.

They are written on first use (the first MO handled, the keywords page opened), not by a migration:
a database is usable right after `engage db upgrade` either way, and rows a migration seeds would
take ids that people's own templates and segments expect to have.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema import Keyword, Segment, Template, TemplateVariant

UNKNOWN = "*"  # the row answering a word nobody defined
# a campaign needs a segment: keyword replies (campaigns of kind "reply") name this one, whose
# people are whoever texts in (keywords/replies.py)
REPLY_SEGMENT = "Everyone (keyword replies)"
# keyword -> its reply template's name and text per language
REPLIES = {
    "STOP": ("Keyword reply: STOP", {
        "en": "You are unsubscribed and will get no more messages from us. Text START to subscribe again.",
        "ru": "Вы отписаны и больше не будете получать наши сообщения. Отправьте СТАРТ, чтобы подписаться снова.",
        "uz": "Siz obunadan chiqdingiz va boshqa xabar olmaysiz. Qayta obuna bo'lish uchun START yuboring.",
        "fr": "Vous êtes désabonné et ne recevrez plus nos messages. Envoyez START pour vous réabonner.",
        "es": "Se ha dado de baja y no recibirá más mensajes. Envíe START para suscribirse de nuevo.",
    }),
    "START": ("Keyword reply: START", {
        "en": "You are subscribed again. Text STOP at any time to unsubscribe.",
        "ru": "Вы снова подписаны. Отправьте СТОП в любой момент, чтобы отписаться.",
        "uz": "Siz qayta obuna bo'ldingiz. Istalgan vaqtda obunadan chiqish uchun STOP yuboring.",
        "fr": "Vous êtes de nouveau abonné. Envoyez STOP à tout moment pour vous désabonner.",
        "es": "Se ha suscrito de nuevo. Envíe STOP en cualquier momento para darse de baja.",
    }),
    "HELP": ("Keyword reply: HELP", {
        "en": "Text STOP to unsubscribe, START to subscribe again. Help: call customer care.",
        "ru": "СТОП - отписаться, СТАРТ - подписаться снова. Помощь: позвоните в службу поддержки.",
        "uz": ("Obunadan chiqish uchun STOP, qayta obuna uchun START yuboring. "
               "Yordam: mijozlar xizmatiga qo'ng'iroq qiling."),
        "fr": "Envoyez STOP pour vous désabonner, START pour vous réabonner. Aide : appelez le service client.",
        "es": "Envíe STOP para darse de baja, START para suscribirse. Ayuda: llame a atención al cliente.",
    }),
    "*": ("Keyword reply: unknown word", {
        "en": "Sorry, we did not understand your message. Text HELP for the words we know.",
        "ru": "Извините, мы не поняли ваше сообщение. Отправьте ПОМОЩЬ, чтобы узнать команды.",
        "uz": "Kechirasiz, xabaringizni tushunmadik. Buyruqlar uchun YORDAM yuboring.",
        "fr": "Désolé, nous n'avons pas compris votre message. Envoyez AIDE pour la liste des mots.",
        "es": "Lo sentimos, no entendimos su mensaje. Envíe AYUDA para ver las palabras.",
    }),
}


def ensure(conn: Connection) -> None:
    """The built-in keyword rows, their reply templates and the reply campaigns' segment, where missing.
    Two handlers doing it at once: the second's rows conflict and are skipped."""
    have = set(conn.execute(select(Keyword.word).where(Keyword.builtin.is_(True), Keyword.short_code == "")).scalars())
    if have >= set(REPLIES) and _segment(conn) is not None:
        return
    with conn.begin_nested():
        if _segment(conn) is None:
            conn.execute(insert(Segment.__table__).values(name=REPLY_SEGMENT, definition={"kind": "all"}))
        for word, (name, texts) in REPLIES.items():
            if word in have:
                continue
            template_id = conn.execute(select(Template.id).where(Template.name == name)).scalar()
            if template_id is None:
                template_id = conn.execute(insert(Template.__table__).values(
                    name=name, default_language="en")).inserted_primary_key[0]
                conn.execute(insert(TemplateVariant.__table__), [
                    {"template_id": template_id, "language": lang, "arm": "A", "body": body}
                    for lang, body in texts.items()])
            conn.execute(conflict_insert(conn, Keyword.__table__).values(
                word=word, short_code="", aliases=[], steps=[], reply_template_id=template_id, builtin=True,
                enabled=word != UNKNOWN, updated_by="system").on_conflict_do_nothing())


def _segment(conn: Connection) -> int | None:
    return conn.execute(select(Segment.id).where(Segment.name == REPLY_SEGMENT)).scalar()
