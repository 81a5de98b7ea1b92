"""The KashFlow REST v2 client and its typed models."""

from __future__ import annotations

from .models import Customer as Customer
from .models import Invoice as Invoice
from .rest import KashFlowClient as KashFlowClient
from .session import Login as Login
from .session import SessionTokens as SessionTokens

__all__ = ["Customer", "Invoice", "KashFlowClient", "Login", "SessionTokens"]
