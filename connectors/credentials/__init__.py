"""Credential verification (学历认证): is this degree certificate held under this name?"""

from connectors.credentials.client import CredentialsConnector

__all__ = ["CredentialsConnector"]
