"""Security groups as packet filtering between the twin's bridges (iptables, filter table). Standard library only.

model(...)  reads moto's backends (passed in) into a plain model; render(...) turns that model into an
`iptables-restore --noflush` text: one chain per twin. Each AWS rule followed is named where it is made:

- SG-STATEFUL: security groups are stateful; responses to allowed traffic are allowed whatever the rules say.
  https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html ("Security group basics")
- SG-BOTH-ENDS: a packet between two members must pass the source's outbound rules and the destination's inbound
  rules; any one of a member's groups allowing it is enough (the rules of all its groups are aggregated). Same page.
- SG-DEFAULT-DENY: what no rule allows is dropped (silently; no reject). Same page.
- SG-REFERENCE: a rule whose peer is a group matches the private IP addresses of that group's network interfaces.
  https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html ("Security group referencing")
- SG-NOT-FILTERED: traffic to the instance metadata service, Amazon DNS and the Time Sync Service is not filtered.
  https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html
- SG-MANAGED: the data hosts talk to each other (PostgreSQL streaming, Redis replication) inside the managed
  service, where no customer group applies.
"""

import ipaddress

NOT_FILTERED = ["169.254.169.254/32", "169.254.169.253/32", "169.254.169.123/32"]


def chain_name(twin):
    return "TWIN-" + twin


def _proto_match(rule):
    proto = str(rule.get("protocol", "-1")).lower()
    proto = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}.get(proto, proto)
    if proto == "-1":
        return []
    lo, hi = rule.get("from_port"), rule.get("to_port")
    if proto in ("tcp", "udp"):
        if lo is None or int(lo) < 0 or (int(lo) <= 0 and int(hi) >= 65535):
            return ["-p", proto]
        ports = str(lo) if int(lo) == int(hi) else "%d:%d" % (int(lo), int(hi))
        return ["-p", proto, "-m", proto, "--dport", ports]
    if proto == "icmp":
        if lo is None or int(lo) < 0:
            return ["-p", "icmp"]
        kind = str(lo) if hi is None or int(hi) < 0 else "%d/%d" % (int(lo), int(hi))
        return ["-p", "icmp", "-m", "icmp", "--icmp-type", kind]
    return ["-p", proto]


def _peers(rule, members_of):
    """The peer addresses of a rule: its CIDR, or (SG-REFERENCE) the private addresses of the group's members."""
    if rule.get("group"):
        return ["%s/32" % a for a in sorted(members_of.get(rule["group"], ()))]
    cidr = str(ipaddress.ip_network(rule["cidr"], strict=False))
    return [None] if cidr == "0.0.0.0/0" else [cidr]


def render(model, twin, stale=()):
    """The filter table text for `iptables-restore -w --noflush`. model: {"groups": {id: {"ingress": [rule],
    "egress": [rule]}}, "members": {address: [group id]}, "managed": [address]}; a rule is {"protocol",
    "from_port", "to_port"} and one peer, "cidr" or "group"."""
    main = chain_name(twin)
    stage = main + "-in"
    groups = sorted(model.get("groups", {}))
    index = {g: i for i, g in enumerate(groups)}
    members = {a: sorted(set(gs) & set(groups)) for a, gs in model.get("members", {}).items()}
    members_of = {}
    for address, gs in members.items():
        for g in gs:
            members_of.setdefault(g, set()).add(address)
    chains = [main, stage] + ["%s-E%d" % (main, i) for i in range(len(groups))] + \
        ["%s-I%d" % (main, i) for i in range(len(groups))]
    lines = ["*filter"] + [":%s - [0:0]" % c for c in chains + [s for s in stale if s not in chains]]
    # SG-STATEFUL
    lines.append("-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % main)
    for cidr in NOT_FILTERED:  # SG-NOT-FILTERED
        lines.append("-A %s -d %s -j ACCEPT" % (main, cidr))
    managed = sorted(model.get("managed", ()))
    for a in managed:  # SG-MANAGED
        for b in managed:
            if a != b:
                lines.append("-A %s -s %s/32 -d %s/32 -j ACCEPT" % (main, a, b))
    for address in sorted(members, key=ipaddress.ip_address):  # SG-BOTH-ENDS: the source's egress first
        for g in members[address]:
            lines.append("-A %s -s %s/32 -j %s-E%d" % (main, address, main, index[g]))
        lines.append("-A %s -s %s/32 -j DROP" % (main, address))  # SG-DEFAULT-DENY
    lines.append("-A %s -j %s" % (main, stage))
    for address in sorted(members, key=ipaddress.ip_address):  # then the destination's ingress
        for g in members[address]:
            lines.append("-A %s -d %s/32 -j %s-I%d" % (stage, address, main, index[g]))
        lines.append("-A %s -d %s/32 -j DROP" % (stage, address))
    lines.append("-A %s -j ACCEPT" % stage)  # a non-member destination (the internet through NAT)
    for g in groups:
        spec = model["groups"][g]
        for direction, flag, verdict, chain in (("egress", "-d", stage, "E"), ("ingress", "-s", "ACCEPT", "I")):
            for rule in spec.get(direction, []):
                for peer in _peers(rule, members_of):
                    match = ([flag, peer] if peer else []) + _proto_match(rule)
                    lines.append(" ".join(["-A", "%s-%s%d" % (main, chain, index[g])] + match + ["-j", verdict]))
    lines += ["-X %s" % s for s in stale if s not in chains]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _rules(sg_rules, prefix_lists):
    out = []
    for r in sg_rules:
        base = {"protocol": r.ip_protocol or "-1", "from_port": r.from_port, "to_port": r.to_port}
        if r.ip_range.get("CidrIp"):
            out.append(dict(base, cidr=r.ip_range["CidrIp"]))
        if r.source_group.get("GroupId"):
            out.append(dict(base, group=r.source_group["GroupId"]))
        if r.prefix_list_id:
            for cidr in prefix_lists.get(r.prefix_list_id, []):
                out.append(dict(base, cidr=cidr))
    return out


def model(ec2, rds, cache, elb, efs, data_hosts, alb_host):
    """The twin's security groups and who is in them, from moto's backends."""
    prefix_lists = {}
    for pl in list(getattr(ec2, "managed_prefix_lists", {}).values()):
        entries = pl.entries.get(pl.version, []) if pl.entries else []
        prefix_lists[pl.id] = [e["Cidr"] for e in entries if ":" not in e.get("Cidr", ":")]
    groups = {}
    for vpc_groups in list(ec2.groups.values()):
        for g in list(vpc_groups.values()):
            groups[g.id] = {"ingress": _rules(g.ingress_rules, prefix_lists),
                            "egress": _rules(g.egress_rules, prefix_lists)}
    members = {}
    for reservation in list(ec2.reservations.values()):
        for inst in reservation.instances:
            if inst._state.name in ("shutting-down", "terminated"):
                continue
            for device, nic in sorted(inst.nics.items()):
                ids = {getattr(g, "id", g) for g in (inst.security_groups if device == 0 else [])}
                ids |= {getattr(g, "id", g) for g in nic._group_set}
                members.setdefault(nic.private_ip_address, set()).update(ids)
    data = set()
    for db in list(rds.databases.values()):
        data |= set(db.vpc_security_group_ids or [])
    for group in list(cache.replication_groups.values()):
        data |= set(getattr(group, "security_group_ids", None) or [])
    for cluster in list(cache.cache_clusters.values()):
        data |= set(getattr(cluster, "security_group_ids", None) or [])
    for target in list(efs.mount_targets_by_id.values()):
        data |= set(target.security_groups or [])
    for address in data_hosts:
        members[address] = set(data)
    members[alb_host] = {sg for lb in list(elb.load_balancers.values()) for sg in (lb.security_groups or [])}
    return {"groups": groups, "members": {a: sorted(s) for a, s in members.items()}, "managed": list(data_hosts)}
