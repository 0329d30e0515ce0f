"""The SQL unit of work: one database transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hanoinet.accounts.sql import SqlAccounts, SqlTokens
from hanoinet.assets.sql import SqlAssetRepository
from hanoinet.audit.sql import SqlAuditLog
from hanoinet.cases.sql import SqlCaseRepository
from hanoinet.evidence.sql import SqlEvidenceRepository, SqlLedger
from hanoinet.federation.sql import (
    SqlConsentRepository,
    SqlInboxRepository,
    SqlOutboxRepository,
    SqlOwnEntryRepository,
    SqlPeerKeyRepository,
    SqlPeerRepository,
    SqlReceiptRepository,
    SqlRejectionRepository,
    SqlSeenTransmissions,
    SqlTransferRepository,
)
from hanoinet.platform.errors import Conflict
from hanoinet.requests.sql import SqlRequestRepository
from hanoinet.treaty.sql import SqlDeclarationRepository, SqlDepositRepository


class SqlUnitOfWork:
    """Opens a session on enter; ``commit()`` makes the work durable, leaving without it discards everything."""

    cases: SqlCaseRepository
    assets: SqlAssetRepository
    requests: SqlRequestRepository
    deposits: SqlDepositRepository
    declarations: SqlDeclarationRepository
    evidence: SqlEvidenceRepository
    ledger: SqlLedger
    tokens: SqlTokens
    peers: SqlPeerRepository
    peer_keys: SqlPeerKeyRepository
    own_entry: SqlOwnEntryRepository
    outbox: SqlOutboxRepository
    inbox: SqlInboxRepository
    receipts: SqlReceiptRepository
    seen: SqlSeenTransmissions
    rejections: SqlRejectionRepository
    transfers: SqlTransferRepository
    consents: SqlConsentRepository
    accounts: SqlAccounts
    audit: SqlAuditLog

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    def __enter__(self) -> Self:
        self._session = self._session_factory()
        self.cases = SqlCaseRepository(self._session)
        self.assets = SqlAssetRepository(self._session)
        self.requests = SqlRequestRepository(self._session)
        self.deposits = SqlDepositRepository(self._session)
        self.declarations = SqlDeclarationRepository(self._session)
        self.evidence = SqlEvidenceRepository(self._session)
        self.ledger = SqlLedger(self._session)
        self.tokens = SqlTokens(self._session)
        self.peers = SqlPeerRepository(self._session)
        self.peer_keys = SqlPeerKeyRepository(self._session)
        self.own_entry = SqlOwnEntryRepository(self._session)
        self.outbox = SqlOutboxRepository(self._session)
        self.inbox = SqlInboxRepository(self._session)
        self.receipts = SqlReceiptRepository(self._session)
        self.seen = SqlSeenTransmissions(self._session)
        self.rejections = SqlRejectionRepository(self._session)
        self.transfers = SqlTransferRepository(self._session)
        self.consents = SqlConsentRepository(self._session)
        self.accounts = SqlAccounts(self._session)
        self.audit = SqlAuditLog(self._session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        try:
            self._session.rollback()  # a no-op after commit(); otherwise nothing half-done survives
        finally:
            self._session.close()
            self._session = None

    def commit(self) -> None:
        assert self._session is not None
        try:
            self._session.commit()
        except IntegrityError as exc:
            # Two writers raced for the same key (a message received twice at once, say): the transaction is
            # rolled back whole, and the caller may look again and find what the winner committed.
            self._session.rollback()
            raise Conflict(f"a concurrent change won: {type(exc.orig).__name__}") from exc

    def rollback(self) -> None:
        assert self._session is not None
        self._session.rollback()
