"""Sales orders between the tills and the ERP: the tills' questions answered (:mod:`.responder`)
from the configured ERP's open orders (:mod:`.source`)."""
