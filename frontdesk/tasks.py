"""Celery tasks: the email for each message, when the clinic opted in."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from frontdesk.messages import EMAIL_TASK, recipients
from frontdesk.models import Message

logger = logging.getLogger(__name__)


@shared_task(
    name=EMAIL_TASK,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def email_message(message_id: int) -> bool:
    """One email per message to the clinic's owners and admins, once (emailed_at). The
    email names the caller masked and links to the message: the reason and the full number
    stay behind sign-in."""
    message = Message.objects.select_related("clinic").filter(pk=message_id).first()
    if message is None or message.emailed_at is not None:
        return False
    to = recipients(message.clinic)
    if not to:
        return False
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "frontdesk:message", args=[message.clinic.slug, message.pk]
    )
    who = message.caller_masked or "a caller"
    urgent = "Urgent: " if message.urgency == Message.Urgency.URGENT else ""
    send_mail(
        f"{urgent}New message for {message.clinic.name}",
        f"Your receptionist took a message from {who}.\n\nRead it and call back:\n{link}\n",
        None,
        to,
    )
    Message.objects.filter(pk=message.pk).update(emailed_at=timezone.now())
    return True
