"""The KashFlow accounts the portal reads from, with their brands, and how they are loaded.

:class:`Account` and :class:`Brand` are plain values; :class:`AccountRegistry` resolves account
ids from ``KASHFLOW_LINKS_ACCOUNTS`` (a dict, or a loader callable).
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from urllib.parse import urlsplit

from ..cache import Memo
from ..kashflow.backend import APIS
from ..kashflow.backend import Credentials
from ..kashflow.models import Customer
from ..kashflow.parsing import EMAIL

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# DNS labels (an IPv4 address is four of them), then an optional port.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}(?::[0-9]{{1,5}})?")
_SOAP_HAS_NO_WORD = (
    "account {id!r} uses KashFlow's SOAP API, which has no memorable word: remove "
    "memorable_word (or set api to 'rest' to sign in to the REST API with it)"
)

#: Brand fields and what they mean (the keys of ``KASHFLOW_LINKS_BRAND``).
BRAND_FIELDS = {
    "name": "the business's name, shown in headings, page titles and emails",
    "logo_url": "URL of the logo (https:// with a plain host, or a path on the site); empty for "
    "none",
    "accent_colour": "accent colour for buttons and links, as #rgb or #rrggbb",
    "email": "contact email address shown on every page",
    "phone": "contact telephone number shown on every page",
    "website": "the business's website (https://...)",
    "address": "postal address, one line per line",
    "payment_instructions": "how to pay, e.g. bank details, shown on unpaid invoices",
    "pay_url": "optional online payment page; {number} and {amount} are filled in",
}


@dataclass(frozen=True)
class Brand:
    """How the portal presents the business to its clients."""

    name: str = "Our business"
    logo_url: str = ""
    accent_colour: str = "#1f5fa8"
    email: str = ""
    phone: str = ""
    website: str = ""
    address: str = ""
    payment_instructions: str = ""
    pay_url: str = ""

    @property
    def has_contact(self) -> bool:
        """Whether any contact detail is configured."""
        return bool(self.email or self.phone or self.website or self.address)

    def merged(self, overrides: t.Mapping[str, t.Any] | None) -> Brand:
        """A copy with *overrides* (a brand dict) applied, validated."""
        if not overrides:
            return self
        return replace(self, **validate_brand(overrides))


def validate_brand(data: t.Mapping[str, t.Any]) -> dict[str, str]:
    """Check a brand dict; returns the cleaned fields or raises :class:`ValueError`."""
    if not isinstance(data, t.Mapping):
        raise ValueError("must be a dict of brand fields")
    unknown = set(data) - set(BRAND_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown brand field(s) {', '.join(sorted(unknown))}; "
            f"known fields: {', '.join(BRAND_FIELDS)}"
        )
    clean: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"brand field {key!r} must be a string")
        clean[key] = value.strip()
    colour = clean.get("accent_colour")
    if colour and not _HEX_COLOUR.fullmatch(colour):
        raise ValueError(f"accent_colour must look like #1f5fa8, not {colour!r}")
    for key in ("logo_url", "website", "pay_url"):
        url = clean.get(key)
        if url and not _safe_url(url):
            raise ValueError(
                f"{key} must be an https:// URL with a plain host (letters, digits, dots and "
                "hyphens, and an optional :port; no spaces) or a path starting with /, not "
                f"{url!r}"
            )
    email = clean.get("email")
    if email and not EMAIL.fullmatch(email):
        raise ValueError(f"email does not look like an email address: {email!r}")
    return clean


def _safe_url(url: str) -> bool:
    if url.startswith("/") and not url.startswith("//"):
        return True
    return plain_origin(url) is not None and all(c.isprintable() and not c.isspace() for c in url)


def plain_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) *url* whose host is plain (DNS labels
    or an IPv4 address, and an optional port), lower-cased; ``None`` for anything else.

    The host of a brand's logo goes into the pages' Content-Security-Policy: a host with
    ``;``, ``,`` or a space in it would write directives of its own there.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not _PLAIN_HOST.fullmatch(parts.netloc):
        return None
    try:
        parts.port  # noqa: B018 - raises ValueError past 65535
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


@dataclass(frozen=True)
class Account:
    """One KashFlow account the portal reads from.

    In embed mode the serving site may hold no credentials at all (they travel encrypted in each
    link); the account then only names the brand.

    :raises ValueError: an unknown API, or a memorable word on a SOAP account.
    """

    #: The account id used in links and config (short ids keep links short).
    id: str
    username: str = ""
    password: str = field(default="", repr=False)
    memorable_word: str = field(default="", repr=False)
    brand: Brand = field(default_factory=Brand)
    #: True when the credentials came from an embed-mode link rather than this site's config.
    embedded: bool = False
    #: Which of KashFlow's APIs serves the account: ``"rest"`` (username, password and
    #: memorable word) or ``"soap"`` (username and password).
    api: str = "rest"
    #: Who must never be mailed by the portal (fresh links, sent links, reminders): email
    #: addresses and customer codes, compared ignoring case. KashFlow's SOAP API has no
    #: opt-out flag (REST contacts have ``ReceiveEmails``), so this is where one goes.
    no_mail: frozenset[str] = frozenset()

    def may_mail(self, customer: str, address: str) -> bool:
        """Whether *address*, on file for customer *customer*, may be mailed (neither is in
        :attr:`no_mail`)."""
        return not {customer.strip().casefold(), address.strip().casefold()} & self.no_mail

    def recipients(self, customer: Customer) -> list[str]:
        """Where the portal may email *customer*: the addresses on file that accept email
        (:attr:`~flask_kashflow_links.kashflow.models.Customer.email_addresses`), less
        :attr:`no_mail`."""
        return [a for a in customer.email_addresses if self.may_mail(customer.code, a)]

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"account {self.id!r}: api must be 'rest' or 'soap', not {self.api!r}")
        if self.api == "soap" and self.memorable_word:
            raise ValueError(_SOAP_HAS_NO_WORD.format(id=self.id))

    @property
    def credentials(self) -> Credentials | None:
        """The login credentials, or ``None`` when this site holds none."""
        if not (self.username and self.password):
            return None
        if self.api == "soap":
            return Credentials(self.username, self.password, api="soap")
        if self.memorable_word:
            return Credentials(self.username, self.password, self.memorable_word)
        return None

    def with_credentials(self, credentials: Credentials) -> Account:
        """A copy that logs in with *credentials* (from an embed-mode link), on the API they
        are for: the link carries the API kind."""
        return replace(
            self,
            username=credentials.username,
            password=credentials.password,
            memorable_word=credentials.memorable_word,
            api=credentials.api,
            embedded=True,
        )


AccountLoader = t.Callable[[str], "Account | t.Mapping[str, t.Any] | None"]

_ACCOUNT_FIELDS = {"api", "username", "password", "memorable_word", "brand", "no_mail"}


def _api_of(account_id: str, data: t.Mapping[str, t.Any]) -> str:
    api = data.get("api", "rest")
    if api not in APIS:
        raise ValueError(
            f"account {account_id!r}: api must be 'rest' (the default) or 'soap', not {api!r}"
        )
    return t.cast(str, api)


def account_from_mapping(
    account_id: str, data: t.Mapping[str, t.Any], base_brand: Brand, *, need_credentials: bool
) -> Account:
    """Build an :class:`Account` from a config dict; raises :class:`ValueError` with the fix."""
    if not isinstance(data, t.Mapping):
        raise ValueError(f"account {account_id!r} must be a dict")
    unknown = set(data) - _ACCOUNT_FIELDS
    if unknown:
        raise ValueError(
            f"account {account_id!r} has unknown field(s) {', '.join(sorted(unknown))}; "
            f"known fields: {', '.join(sorted(_ACCOUNT_FIELDS))}"
        )
    api = _api_of(account_id, data)
    values = {key: data.get(key) or "" for key in ("username", "password", "memorable_word")}
    for key, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f"account {account_id!r}: {key} must be a string")
    if api == "soap" and values["memorable_word"]:
        raise ValueError(_SOAP_HAS_NO_WORD.format(id=account_id))
    needed = ("username", "password") if api == "soap" else tuple(values)
    missing = [key for key in needed if not values[key]]
    if need_credentials and missing:
        what = (
            "KashFlow's SOAP API needs the username and the API password (the web login "
            "password if the account has no separate API password)"
            if api == "soap"
            else "KashFlow's login needs the web username, password and the whole memorable word"
        )
        raise ValueError(
            f"account {account_id!r} is missing {', '.join(missing)}: {what} (or turn on "
            "KASHFLOW_LINKS_EMBED_CREDENTIALS to carry them in links instead)"
        )
    if values["memorable_word"] and len(values["memorable_word"]) < 3:
        raise ValueError(
            f"account {account_id!r}: the memorable word is shorter than 3 characters; KashFlow "
            "asks for three of its letters"
        )
    try:
        brand = base_brand.merged(data.get("brand"))
    except ValueError as e:
        raise ValueError(f"account {account_id!r} brand: {e}") from None
    return Account(
        id=account_id,
        username=values["username"],
        password=values["password"],
        memorable_word=values["memorable_word"],
        brand=brand,
        api=api,
        no_mail=_no_mail(account_id, data.get("no_mail")),
    )


def _no_mail(account_id: str, value: t.Any) -> frozenset[str]:
    """An account's ``no_mail``: a list of email addresses and customer codes."""
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise ValueError(
            f"account {account_id!r}: no_mail must be a list of email addresses and customer "
            'codes, e.g. ["accounts@bigco.example", "QUIET01"]'
        )
    return frozenset(v.strip().casefold() for v in value)


class AccountRegistry:
    """Resolves account ids to :class:`Account` objects from a dict or a loader callable."""

    def __init__(
        self,
        source: t.Mapping[str, t.Any] | AccountLoader,
        *,
        base_brand: Brand,
        default: str | None,
        need_credentials: bool,
    ) -> None:
        self._base_brand = base_brand
        self._need_credentials = need_credentials
        self._loader: AccountLoader | None = None
        self._accounts: dict[str, Account] = {}
        if callable(source):
            self._loader = source
        else:
            for account_id, data in source.items():
                if not isinstance(account_id, str) or not account_id:
                    raise ValueError("account ids must be non-empty strings")
                if isinstance(data, Account):
                    self._accounts[account_id] = self._with_site_brand(data)
                else:
                    self._accounts[account_id] = account_from_mapping(
                        account_id, data, base_brand, need_credentials=need_credentials
                    )
        if default is None and self._loader is None and len(self._accounts) == 1:
            default = next(iter(self._accounts))
        if default is not None and self._loader is None and default not in self._accounts:
            known = ", ".join(sorted(self._accounts)) or "none configured"
            raise KeyError(f"unknown default account {default!r} (known: {known})")
        #: The account used when ``account=`` is not given, if any.
        self.default = default
        #: Loader results, kept briefly: the loader is asked once a minute per account, not
        #: on every page.
        self._loaded = Memo(1000, ttl=60.0)

    def _with_site_brand(self, account: Account) -> Account:
        """An :class:`Account` object without a brand of its own wears the site's."""
        if account.brand == Brand():
            return replace(account, brand=self._base_brand)
        return account

    @property
    def known_ids(self) -> list[str]:
        """The ids of dict-configured accounts (empty with a loader)."""
        return sorted(self._accounts)

    @property
    def apis(self) -> frozenset[str]:
        """The KashFlow APIs the accounts use, for wording messages: those of the configured
        accounts, or every API with a loader (which may bring either)."""
        if self._loader is not None:
            return frozenset(APIS)
        return frozenset(account.api for account in self._accounts.values())

    def for_link(self, account_id: str | None, credentials: Credentials | None) -> Account:
        """The account a link reads from: *account_id*'s, logging in with the link's own
        *credentials* when it carries them (embed mode).

        :raises LookupError: the account is unknown here, or the link carries credentials and
            this site holds its own (embed mode is off): a site signs in to KashFlow only as
            its configuration says, never as whatever a link minted with its keys carries.
        """
        if credentials is not None and self._need_credentials:
            raise LookupError(
                "the link carries KashFlow credentials and this site holds its own "
                "(KASHFLOW_LINKS_EMBED_CREDENTIALS is off)"
            )
        account = self.get(account_id)
        return account if credentials is None else account.with_credentials(credentials)

    def get(self, account_id: str | None) -> Account:
        """Return the account *account_id* (or the default); :class:`LookupError` if unknown."""
        if account_id is None:
            if self.default is None:
                raise LookupError(
                    "no account given and no KASHFLOW_LINKS_DEFAULT_ACCOUNT configured"
                )
            account_id = self.default
        if account_id in self._accounts:
            return self._accounts[account_id]
        loader = self._loader
        if loader is None:
            raise LookupError(f"unknown account {account_id!r}")
        return self._loaded.get_or_make(account_id, lambda: self._load(loader, account_id))

    def _load(self, loader: AccountLoader, account_id: str) -> Account:
        loaded = loader(account_id)
        if loaded is None:
            raise LookupError(f"unknown account {account_id!r}")
        if isinstance(loaded, Account):
            return self._with_site_brand(loaded)
        return account_from_mapping(
            account_id, loaded, self._base_brand, need_credentials=self._need_credentials
        )

    def brand_for(self, account_id: str | None) -> Brand:
        """The brand of *account_id*, or the site brand if the account is unknown."""
        try:
            return self.get(account_id).brand
        except (LookupError, ValueError):
            return self._base_brand
