"""A subscriber's profile and history in words a marketer or a support agent can repeat: fields by
their labels, a message's fate and a receipt as sentences, the network's codes kept beside them."""

from __future__ import annotations

import pytest

from engage.engine.subscriber_fields import FIELDS, label_of
from engage.engine.subscribers.outcome_words import error_words, message_words, raw_code, receipt_words


@pytest.mark.parametrize(("key", "label"), [("first_name", "First name"), ("msisdn", "Phone number"),
                                            ("birth_date", "Date of birth"), ("data_mb_month", "Data this month (MB)")])
def test_a_field_is_labelled_in_words(key, label):
    assert label_of(key) == label


def test_every_field_has_a_label_with_no_underscore():
    assert all("_" not in f.label and f.label[0].isupper() for f in FIELDS.values())


@pytest.mark.parametrize(("key", "label"), [("favourite_shop", "Favourite shop"), ("FIRST_VISIT", "First visit")])
def test_a_custom_attribute_is_labelled_from_its_header(key, label):
    assert label_of(key) == label


@pytest.mark.parametrize(("key", "stored", "shown"), [
    ("gender", "F", "Female"), ("roaming", True, "Yes"), ("contract_type", "prepaid", "Prepaid"),
    ("city", "Navoi", "Navoi"),
])
def test_a_stored_value_is_shown_in_words(key, stored, shown):
    assert FIELDS[key].words(stored) == shown


def test_a_delivered_receipt_says_delivered_and_no_error():
    assert receipt_words("DELIVRD", "000") == "Delivered"


def test_an_undelivered_receipt_says_why_in_words():
    assert receipt_words("UNDELIV", "006") == "Not delivered: the phone was switched off or out of coverage"


def test_an_error_code_no_one_explained_is_said_to_be_the_networks_own():
    assert error_words("777") == "the network's error 777 (the provider can say what it means)"


@pytest.mark.parametrize(("status", "error", "words"), [
    ("delivered", "000", "Delivered"),
    ("undelivered", "001", "Not delivered: the number is not in service"),
    ("failed", "smpp:0x0b", "Not sent: the provider refused the number"),
    ("failed", "smpp:0x99", "Not sent: the provider refused it (SMPP error 0x99)"),
    ("failed", "http:503", "Not sent: the provider had an error (HTTP 503)"),
    ("failed", "provider down", "Not sent: provider down"),
    ("opted_out", "opted out", "Not sent: the subscriber had opted out"),
    ("submitted", None, "Sent, waiting for the network to confirm"),
])
def test_a_message_says_its_fate_and_its_reason_in_words(status, error, words):
    assert message_words(status, error) == words


def test_the_raw_code_stays_available_as_the_network_gave_it():
    assert raw_code("DELIVRD", "000") == "DELIVRD (error 000)"
    assert raw_code("delivered", None) == "delivered"
