"""tools/twin/security_groups.py: the exact iptables rules each AWS security-group rule becomes (render is pure)."""
import importlib.util
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_SPEC = importlib.util.spec_from_file_location("twin_sg", os.path.join(ROOT, "tools", "twin", "security_groups.py"))
sg = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sg)

ALL_OUT = {"protocol": "-1", "from_port": None, "to_port": None, "cidr": "0.0.0.0/0"}


def _text(groups, members, managed=()):
    return sg.render({"groups": groups, "members": members, "managed": list(managed)}, "t").splitlines()


@pytest.mark.parametrize("rule, expected", [
    ({"protocol": "tcp", "from_port": 5432, "to_port": 5432, "group": "sg-a"},
     "-A TWIN-t-I1 -s 10.0.1.10/32 -p tcp -m tcp --dport 5432 -j ACCEPT"),          # SG-REFERENCE
    ({"protocol": "tcp", "from_port": 8000, "to_port": 8100, "cidr": "10.0.0.0/8"},
     "-A TWIN-t-I1 -s 10.0.0.0/8 -p tcp -m tcp --dport 8000:8100 -j ACCEPT"),     # CIDR, port range
    ({"protocol": "-1", "from_port": None, "to_port": None, "cidr": "0.0.0.0/0"},
     "-A TWIN-t-I1 -j ACCEPT"),                                                    # all protocols, anywhere
    ({"protocol": "icmp", "from_port": 8, "to_port": -1, "cidr": "10.0.0.0/8"},
     "-A TWIN-t-I1 -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 8 -j ACCEPT"),
])
def test_an_ingress_rule_becomes_one_exact_accept(rule, expected):
    lines = _text({"sg-a": {"ingress": [], "egress": [ALL_OUT]}, "sg-b": {"ingress": [rule], "egress": []}},
                  {"10.0.1.10": ["sg-a"], "10.0.15.10": ["sg-b"]})
    assert [x for x in lines if x.startswith("-A TWIN-t-I1 ")] == [expected]


def test_stateful_first_and_both_ends_then_drop():
    lines = _text({"sg-a": {"ingress": [], "egress": [ALL_OUT]}}, {"10.0.1.10": ["sg-a"]})
    first = [x for x in lines if x.startswith("-A TWIN-t ")][0]
    assert first == "-A TWIN-t -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"  # SG-STATEFUL
    assert "-A TWIN-t -s 10.0.1.10/32 -j TWIN-t-E0" in lines                        # source's egress
    assert lines.index("-A TWIN-t -s 10.0.1.10/32 -j DROP") > lines.index("-A TWIN-t -s 10.0.1.10/32 -j TWIN-t-E0")
    assert "-A TWIN-t-E0 -j TWIN-t-in" in lines                                        # then the destination's ingress
    assert "-A TWIN-t-in -d 10.0.1.10/32 -j DROP" in lines                             # SG-DEFAULT-DENY


def test_a_member_in_two_groups_is_checked_against_both():
    lines = _text({"sg-a": {"ingress": [], "egress": []}, "sg-b": {"ingress": [], "egress": []}},
                  {"10.0.1.10": ["sg-a", "sg-b"]})
    assert "-A TWIN-t-in -d 10.0.1.10/32 -j TWIN-t-I0" in lines
    assert "-A TWIN-t-in -d 10.0.1.10/32 -j TWIN-t-I1" in lines


def test_traffic_between_the_data_hosts_is_exempt():
    lines = _text({}, {"10.0.15.10": [], "10.0.15.12": []}, managed=["10.0.15.10", "10.0.15.12"])
    assert "-A TWIN-t -s 10.0.15.10/32 -d 10.0.15.12/32 -j ACCEPT" in lines
    assert "-A TWIN-t -s 10.0.15.12/32 -d 10.0.15.10/32 -j ACCEPT" in lines
