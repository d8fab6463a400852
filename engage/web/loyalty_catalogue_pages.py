"""A programme's rewards catalogue from the browser: every reward, offered now or not, with its names
per language, price, stock, the level it needs, its limit per member, its validity and how it is
fulfilled (a voucher reward with its codes left); a form that adds one or changes one, checked by
rewards.parse and fulfilment's adapters, a mistake beside its field; a voucher reward's codes
pasted in, one a line. Times are typed and shown in the reader's zone. Admin and marketer of no
branch change the catalogue; each change is audited (a change with the reward before and after)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import tornado.web

from engage.engine.audit import audit
from engage.engine.loyalty import fulfilment, levels, programmes, rewards
from engage.engine.users.roles import LOYALTY_EDITORS, LOYALTY_READERS
from engage.web.loyalty_forms import (
    FieldErrors,
    may_edit,
    programme_of,
    refuse_a_branch,
    wall_text,
    wall_time,
    whole,
)
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

MAX_LANGUAGES = 20
MAX_CODES = 100_000  # voucher codes pasted at once
NUMBERS = ("points", "stock", "per_member")


class LoyaltyRewardsPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, code: str) -> None:
        programme = await programme_of(self, code)

        def read() -> list[tuple[rewards.Reward, int, int]]:
            with self.db.connect() as conn:
                return rewards.listed(conn, programme.id)
        self.render("loyalty_rewards.html", programme=programme, listed=await off_loop(read),
                    can_edit=may_edit(self), now=datetime.now(UTC))


class LoyaltyRewardPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, code: str, reward_code: str | None = None) -> None:
        programme = await programme_of(self, code)
        reward, codes = await off_loop(self._read, programme, reward_code)
        form = self._form_of(reward) if reward else {
            "code": "", "rows": [("en", "", ""), ("", "", "")], "points": "", "stock": "", "per_member": "",
            "level": "", "valid_from": "", "valid_until": "", "fulfilment": "none", "url": "", "timeout": "5",
            "active": "1"}
        done = self.get_query_argument("saved", "") and "saved" or (
            f"codes:{self.get_query_argument('codes')}" if self.get_query_argument("codes", "") else "")
        self._show(programme, reward_code, form, FieldErrors(), codes=codes, done=done)

    @requires(*LOYALTY_EDITORS)
    async def post(self, code: str, reward_code: str | None = None) -> None:
        refuse_a_branch(self)
        programme = await programme_of(self, code)
        reward, codes = await off_loop(self._read, programme, reward_code)
        if reward is not None and self.get_body_argument("do", "") == "codes":
            await self._add_codes(programme, reward, codes)
            return
        form = self._form_posted(reward_code)
        wrong = FieldErrors()
        raw = self._raw(programme, form, wrong)
        if wrong:
            self._show(programme, reward_code, form, wrong, codes=codes, status=400)
            return

        def save() -> str:
            with self.db.begin() as conn:
                if reward is None:
                    made = rewards.add(conn, programme.id, raw)
                    audit(conn, self.current_user.email, "loyalty.reward.add", "loyalty_reward", made.id,
                          code=made.code, reward=described(made))
                else:
                    made = rewards.change(conn, programme.id, reward.code, raw)
                    audit(conn, self.current_user.email, "loyalty.reward.change", "loyalty_reward", made.id,
                          code=made.code, before=described(reward), after=described(made))
                return made.code
        try:
            saved = await off_loop(save)
        except rewards.RewardError as exc:
            _place(exc, wrong)
            self._show(programme, reward_code, form, wrong, codes=codes, status=400)
            return
        self.redirect(f"/loyalty/{programme.code}/rewards/{saved}?saved=1", status=303)

    async def _add_codes(self, programme: programmes.Programme, reward: rewards.Reward,
                         codes: tuple[int, int] | None) -> None:
        """Codes pasted in for a voucher reward, one a line; the ones it has already are skipped."""
        text = self.get_body_argument("codes", "")
        lines = text.splitlines()[:MAX_CODES]

        def add() -> int:
            with self.db.begin() as conn:
                added = rewards.add_codes(conn, reward.id, lines)
                audit(conn, self.current_user.email, "loyalty.reward.codes", "loyalty_reward", reward.id,
                      code=reward.code, added=added, lines=len(lines))
                return added
        wrong = FieldErrors()
        if reward.fulfilment != "voucher":
            wrong["codes"] = "codes: only a reward fulfilled by voucher has codes"
        else:
            try:
                added = await off_loop(add)
            except rewards.RewardError as exc:
                wrong["codes"] = str(exc)
            else:
                self.redirect(f"/loyalty/{programme.code}/rewards/{reward.code}?codes={added}", status=303)
                return
        self._show(programme, reward.code, self._form_of(reward), wrong, codes=codes, status=400, pasted=text)

    def _read(self, programme: programmes.Programme, reward_code: str | None
              ) -> tuple[rewards.Reward | None, tuple[int, int] | None]:
        if reward_code is None:
            return None, None
        with self.db.connect() as conn:
            for reward, free, total in rewards.listed(conn, programme.id):
                if reward.code == reward_code:
                    return reward, (free, total)
        raise tornado.web.HTTPError(404)

    def _form_of(self, reward: rewards.Reward) -> dict[str, Any]:
        languages = list(reward.names) + [k for k in reward.descriptions if k not in reward.names]
        zone = self.user_zone()
        return {"code": reward.code, "rows": [(lang, reward.names.get(lang, ""), reward.descriptions.get(lang, ""))
                                              for lang in languages] + [("", "", "")],
                "points": str(reward.points), "stock": "" if reward.stock is None else str(reward.stock),
                "per_member": "" if reward.per_member is None else str(reward.per_member),
                "level": reward.level or "", "valid_from": wall_text(reward.valid_from, zone),
                "valid_until": wall_text(reward.valid_until, zone), "fulfilment": reward.fulfilment,
                "url": str(reward.config.get("url", "")), "timeout": str(reward.config.get("timeout", 5)),
                "active": "1" if reward.active else ""}

    def _form_posted(self, reward_code: str | None) -> dict[str, Any]:
        arg = self.get_body_argument
        rows = list(zip(self.get_body_arguments("language"), self.get_body_arguments("name"),
                        self.get_body_arguments("description"), strict=False))[:MAX_LANGUAGES]
        form: dict[str, Any] = {key: arg(key, "").strip()[:300] for key in (
            "points", "stock", "per_member", "level", "valid_from", "valid_until", "fulfilment", "url", "timeout",
            "active")}
        form["code"] = reward_code or arg("code", "").strip()[:40]
        form["rows"] = [(lang.strip().lower()[:3], name.strip()[:300], text.strip()[:300]) for lang, name, text in rows]
        return form

    def _raw(self, programme: programmes.Programme, form: dict[str, Any], wrong: FieldErrors) -> dict[str, Any]:
        """The reward as rewards.parse reads it; what the form alone can tell is wrong is noted."""
        raw: dict[str, Any] = {"code": form["code"], "names": {}, "descriptions": {}}
        for n, (lang, name, text) in enumerate(form["rows"], 1):
            if (name or text) and not lang:
                wrong["names"] = f"Row {n}: the language of this name, such as en"
            if lang and name:
                raw["names"][lang] = name
            if lang and text:
                raw["descriptions"][lang] = text
        for key in NUMBERS:
            raw[key] = whole(form[key], key, wrong)
        if not form["points"]:
            wrong["points"] = "points: the reward's price in points"
        ladder = levels.of(programme.settings)
        if form["level"] and (ladder is None or form["level"] not in ladder.names):
            wrong["level"] = f"level: the programme has no level {form['level']!r}"
        raw["level"] = form["level"] or None
        zone = self.user_zone()
        raw["valid_from"] = wall_time(form["valid_from"], "valid_from", zone, wrong)
        raw["valid_until"] = wall_time(form["valid_until"], "valid_until", zone, wrong)
        raw["fulfilment"] = form["fulfilment"] or "none"
        raw["config"] = {}
        if raw["fulfilment"] == "http":
            try:
                timeout = float(form["timeout"] or 5)
            except ValueError:
                wrong["timeout"] = f"timeout: {form['timeout'][:20]!r} is not a number of seconds"
                timeout = 5.0
            raw["config"] = {"url": form["url"], "timeout": int(timeout) if timeout.is_integer() else timeout}
        raw["active"] = bool(form["active"])
        return raw

    def _show(self, programme: programmes.Programme, reward_code: str | None, form: dict[str, Any],
              wrong: FieldErrors, *, codes: tuple[int, int] | None, done: str = "", status: int = 200,
              pasted: str = "") -> None:
        self.set_status(status)
        ladder = levels.of(programme.settings)
        self.render("loyalty_reward.html", programme=programme, reward_code=reward_code, form=form, wrong=wrong,
                    codes=codes, pasted=pasted, done=done, can_edit=may_edit(self),
                    level_names=list(ladder.names) if ladder else [], fulfilments=sorted(fulfilment.FULFILMENTS))


def described(reward: rewards.Reward) -> dict[str, Any]:
    """A reward as the audit log keeps it."""
    return {"names": reward.names, "descriptions": reward.descriptions, "points": reward.points,
            "stock": reward.stock, "level": reward.level, "per_member": reward.per_member,
            "valid_from": reward.valid_from.isoformat() if reward.valid_from else None,
            "valid_until": reward.valid_until.isoformat() if reward.valid_until else None,
            "fulfilment": reward.fulfilment, "config": reward.config, "active": reward.active}


def _place(exc: rewards.RewardError, wrong: FieldErrors) -> None:
    """An adapter's settings are checked as one ("config"): its message names the setting."""
    if exc.field == "config":
        setting = str(exc).split(": ", 2)[1]
        wrong["timeout" if setting == "timeout" else "url"] = str(exc)
    else:
        wrong["names" if exc.field == "descriptions" else exc.field] = str(exc)


LOYALTY_CATALOGUE_ROUTES = [
    (r"/loyalty/([a-z0-9_-]+)/rewards", LoyaltyRewardsPage),
    (r"/loyalty/([a-z0-9_-]+)/rewards/new", LoyaltyRewardPage),
    (r"/loyalty/([a-z0-9_-]+)/rewards/([a-z0-9_-]+)", LoyaltyRewardPage),
]
