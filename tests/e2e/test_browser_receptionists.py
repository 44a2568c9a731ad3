"""Managing receptionists in a real browser at phone size (issue 15): add a Spanish line,
give it a number, then delete it and see the number go back. Chromium via Playwright against
the live server; every wait is on a condition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from telephony.models import PhoneNumber, Receptionist
from telephony.services import phone_number_add
from tests.e2e.test_browser import browser, field, open_tour, sign_in  # noqa: F401 (fixture)
from tests.factories import UserFactory, make_clinic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
N1, N2 = "+14155550121", "+14155550122"


@pytest.fixture
def phone_tour(browser: Browser, live_server: Any) -> Iterator[Any]:  # noqa: F811
    context, tour = open_tour(browser, live_server, "phone")
    try:
        yield tour
        tour.check_no_csp_violations()
    finally:
        context.close()


def test_an_owner_adds_a_line_gives_it_a_number_and_deletes_it_on_a_phone(phone_tour):
    tour, page = phone_tour, phone_tour.page
    user = UserFactory(email="lines@phone.example")
    clinic = make_clinic(user, "Two Lines Dental")
    phone_number_add(clinic=clinic, number=N1)
    phone_number_add(clinic=clinic, number=N2)
    sign_in(tour, user.email)

    tour.goto(f"/clinics/{clinic.slug}/")
    page.get_by_role("link", name="Receptionists", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Receptionists")
    tour.check_fits_the_screen()
    page.get_by_role("link", name="Add a receptionist").click()

    # A duplicate name is refused next to the field, and what was typed stays.
    field(page, "Name").fill("main line")
    field(page, "Greeting").fill("Gracias por llamar a Two Lines Dental.")
    page.get_by_role("button", name="Add receptionist").click()
    expect(page.locator("#id_name_error")).to_contain_text("already has a receptionist named")
    expect(field(page, "Greeting")).to_have_value("Gracias por llamar a Two Lines Dental.")
    field(page, "Name").fill("Spanish line")
    field(page, "Language").select_option(label="Spanish")
    page.get_by_role("button", name="Add receptionist").click()
    expect(page.get_by_role("status")).to_contain_text("Receptionist “Spanish line” added.")
    spanish = Receptionist.objects.get(clinic=clinic, name="Spanish line")
    assert spanish.language == "es-ES" and spanish.greeting.startswith("Gracias")
    tour.check_fits_the_screen()
    tour.check_plain_words()

    # Give it the second number.
    row = page.locator(f'.numbers__item[data-e164="{N2}"]')
    row.get_by_label("answered by").select_option(label="Spanish line")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("is now answered by “Spanish line”")
    assert PhoneNumber.objects.get(e164=N2).receptionist_id == spanish.pk
    expect(page.locator(f'[data-receptionist="{spanish.pk}"]')).to_contain_text("Answers")
    tour.shoot("20-receptionists")

    # Delete it: its number goes to the line chosen.
    page.locator(f'[data-receptionist="{spanish.pk}"]').get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete Spanish line")
    field(page, "Who answers its numbers from now on").select_option(label="Main line")
    page.get_by_role("button", name="Delete “Spanish line”").click()
    expect(page.get_by_role("status")).to_contain_text("Receptionist “Spanish line” deleted.")
    main = Receptionist.objects.first_of(clinic)
    assert set(main.numbers.values_list("e164", flat=True)) == {N1, N2}
    assert not Receptionist.objects.filter(pk=spanish.pk).exists()
    tour.check_fits_the_screen()
    tour.check_offline_and_styled()
