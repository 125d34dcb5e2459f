"""What the admission webhooks do besides deciding (the decisions are pure: domain/admission.py).

Every module here runs only inside an admission review, with the requester's identity from the API server:
the audit record of a change (change_audit), the signed stamps admission alone may write (stamps: approver,
ServiceAccount grant, last editor) and who asked for a decommission (requesters). Reconcilers never import
this package; handlers/admission.py wires it to Kopf and turns failures into refusals (fail closed).
"""
