from django.core.exceptions import PermissionDenied


class TwoFactorRequired(PermissionDenied):
    """The clinic requires two-factor sign-in and this session (or token user) has none."""
