"""Rule 3's address matching: country, postal code and first line, normalised."""

from domain.address import addresses_match, normalise
from domain.records import Address

HOME = Address(name="Ada", line1="12 Rue de la Paix", city="Paris", postal_code="75002",
               country="FR")


def test_normalise_folds_case_accents_punctuation_and_spaces():
    assert normalise("  12, Rue  de la PAIX. ") == "12 rue de la paix"
    assert normalise("Straße") == normalise("STRASSE")
    assert normalise("Zürich-Höngg") == "zurich hongg"


def test_same_place_written_differently_matches():
    carrier = Address(name="A. BUYER", line1="12, rue de la paix", city="PARIS 2E",
                      postal_code="75 002", country="fr", line2="3rd floor")
    assert addresses_match(carrier, HOME)


def test_another_postal_code_country_or_first_line_does_not_match():
    assert not addresses_match(Address(**{**HOME.__dict__, "postal_code": "75003"}), HOME)
    assert not addresses_match(Address(**{**HOME.__dict__, "country": "BE"}), HOME)
    assert not addresses_match(Address(**{**HOME.__dict__, "line1": "14 Rue de la Paix"}), HOME)


def test_name_city_and_second_line_are_not_compared():
    other = Address(name="Someone", line1=HOME.line1, city="Elsewhere", postal_code="75002",
                    country="FR", line2="Flat 9")
    assert addresses_match(other, HOME)
