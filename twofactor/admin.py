"""Staff never see a member's authenticator key or recovery codes: django-otp's device
admins (which show both) are removed; staff reset a member's two-factor sign-in from the
user list instead (tenants/admin/users.py)."""

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
