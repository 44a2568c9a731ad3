"""The names of the provisioning tasks, shared by the code that publishes them
(telephony/publishing.py) and the Celery adapters that define them (telephony/tasks.py).

Publishing by name keeps the import graph one-way: the adapters import the services and the
engine, never the other way round (tools/import_graph.py).
"""

RECONCILE_CLINIC = "telephony.reconcile_clinic"
RECONCILE_CLINICS = "telephony.reconcile_clinics"
PURCHASE_NUMBER = "telephony.purchase_number"
RELEASE_NUMBER = "telephony.release_number"
ADVANCE_MOVE = "telephony.advance_move"
