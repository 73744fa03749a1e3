import pytest

from smsplatform.extensions import db


@pytest.fixture
def owner(account):
    """The account's owner, with the default region DE, as the import tests read national numbers (a module
    that needs an owner without a region, such as ``test_services``, defines its own ``owner``)."""
    owner = account[0]
    owner.default_region = "DE"
    db.session.commit()
    return owner
