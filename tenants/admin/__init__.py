"""Staff admin: users, clinics with their provisioning state, memberships.

The clinic pages are the staff console (docs/operations.md): a list that stays cheap at
10,000 clinics, a change page with LiveKit's objects next to what the database wants, and
actions that go through the same services as the web app and record the acting staff user.
Mutating actions need `tenants.run_provisioning_actions` (group "operator"); the dry-run
plan needs `tenants.view_provisioning_plan` (groups "support" and "operator").

One module per concern:
- users: the user and membership pages.
- clinics: the clinic list and change page (what staff see), saving through the services.
- inlines: the clinic page's numbers, members, trunk settings, agent settings, timeline.
- filters: the clinic list's filters and paginator.
- actions: the table of mutating actions (eligibility, label, the service each calls).
- console: the dry-run plan and the actions' confirm-then-run pages (single and bulk).
- erasure: a caller's erasure request and the recent calls panel.
- tokens: people's API tokens (name and prefix only; revoke).
Importing this package registers every ModelAdmin (Django's admin autodiscovery).
"""

from tenants.admin import clinics, tokens, users

__all__ = ["clinics", "tokens", "users"]
