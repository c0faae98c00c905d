"""The password policy: refuse what attackers try first, and say why in words a person can act on.

Checked wherever a password is set (the accounts service: API, ``vigil users add``, the demo).
In order, each with its own message:

1. **Length**: at least :data:`MIN_PASSWORD` characters.
2. **The person's name**: the username or a word of the display name, in any case, reversed,
   repeated, with common letter-for-digit swaps (``0`` for ``o``, ``3`` for ``e``, ...), is
   removed from the password; fewer than :data:`MIN_REMAINDER` characters left means the
   password is mostly the name (``operatoroperator``, ``Operator2024!``).
3. **Repetition**: fewer than :data:`MIN_DISTINCT` distinct characters, or the same short block
   repeated (``aaaaaaaaaaaa``, ``abcabcabcabc``).
4. **Common passwords**: the lower-cased password, with any trailing digits and symbols
   removed too (``password1234``), is in the 30,000 most common passwords of the list shipped
   with ``zxcvbn`` (from leaked password sets; we type in no list of our own).
5. **Guessability**: zxcvbn's estimate (keyboard walks, sequences, dates, dictionary words with
   substitutions) must reach :data:`MIN_SCORE` (about 10^8 guesses), which a 12-character
   password of random words or characters always does.

Trade-off: rules 1-4 give precise messages and need no tuning; rule 5 catches patterns the
rules miss but its message is zxcvbn's. Nothing here limits the character set: long passphrases
are the best passwords and pass every rule.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from vigil.errors import ValidationError

MIN_PASSWORD = 12
MIN_REMAINDER = 8
MIN_DISTINCT = 5
MIN_SCORE = 3
ZXCVBN_MAX = 72  # zxcvbn refuses longer input (its matching is quadratic); the prefix decides
_LEET = str.maketrans("0134578@$!|+", "oleastbasilt")
_TRAILING = re.compile(r"[\W\d_]+$")
# zxcvbn keeps its ranked dictionaries in a module global it rewrites on every call.
_ZXCVBN_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The common-password list shipped with zxcvbn (loaded on first use, ~30,000 entries)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _normal(text: str) -> str:
    return text.lower().translate(_LEET)


def _name_forms(username: str, display_name: str) -> list[str]:
    names = {username, *re.split(r"[\s._-]+", username), *display_name.split()}
    forms = set()
    for name in names:
        norm = _normal(name)
        if len(norm) >= 3 or norm == _normal(username):
            forms.update({norm, norm[::-1]})
    return sorted((f for f in forms if f), key=len, reverse=True)


def _mostly_name(password: str, username: str, display_name: str) -> bool:
    rest = _normal(password)
    for form in _name_forms(username, display_name):
        rest = rest.replace(form, "")
    return len(rest) < MIN_REMAINDER


def _repetitive(password: str) -> bool:
    if len(set(password.lower())) < MIN_DISTINCT:
        return True
    n = len(password)
    return any(n % k == 0 and password == password[:k] * (n // k) for k in range(1, n // 2 + 1))


def _zxcvbn_score(password: str) -> tuple[int, str]:
    from zxcvbn import zxcvbn

    with _ZXCVBN_LOCK:
        result = zxcvbn(password[:ZXCVBN_MAX])
    feedback = result["feedback"]
    hint = feedback.get("warning") or " ".join(feedback.get("suggestions", []))
    return int(result["score"]), str(hint)


def check_password(password: str, *, username: str, display_name: str = "") -> None:
    """Raise :class:`ValidationError` (an API 422) naming the first rule ``password`` breaks."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters")
    if _mostly_name(password, username, display_name):
        raise ValidationError(
            "the password is mostly the user's name (reversed, repeated or with digits for "
            "letters counts too); choose words that have nothing to do with the account"
        )
    if _repetitive(password):
        raise ValidationError(
            "the password is too repetitive (the same character or block over and over)"
        )
    low = password.lower()
    common = common_passwords()
    if low in common or _TRAILING.sub("", low) in common:
        raise ValidationError(
            "the password is one of the most common passwords (or one with digits added); "
            "attackers try those first"
        )
    score, hint = _zxcvbn_score(password)
    if score < MIN_SCORE:
        raise ValidationError(
            f"the password is too easy to guess ({hint or 'a predictable pattern'}); "
            "a few unrelated words make a strong one"
        )
