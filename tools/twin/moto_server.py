"""moto in server mode, with the moto 5.x gaps this collection meets bridged *here*, in the test fixture.

Usage: moto_server.py PORT   (listens on 127.0.0.1:PORT)

Every patch below names the gap it bridges; none of them changes what the infra role sends or expects,
they make moto answer the way AWS does. Measured against moto 5.2.5.
"""

import json
import os
import re
import sys

# Gap: AWS-managed IAM policies (arn:<partition>:iam::aws:policy/AmazonSSMManagedInstanceCore) exist in every
# account on AWS; moto only loads them when asked to.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto import server  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402
from moto.ec2 import utils as ec2_utils  # noqa: E402
from moto.efs import urls as efs_urls  # noqa: E402
from moto.efs.responses import EFSResponse  # noqa: E402
from moto.elasticache import models as ec_models  # noqa: E402
from moto.elasticache.exceptions import CacheSubnetGroupNotFound  # noqa: E402
from moto.elasticache.responses import ElastiCacheResponse  # noqa: E402

from moto.core.responses import EmptyResult  # noqa: E402


def dns_suffix(region):
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


# --- EC2 -----------------------------------------------------------------------------------------------------------
# Gap: moto files NAT gateway tags under resource type "nat-gateway"; AWS (and amazon.aws.ec2_vpc_nat_gateway, which
# filters DescribeTags on resource-type=natgateway) say "natgateway". Without this the module sees no tags and
# re-tags the gateway on every run.
ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"

from moto.core.responses import ActionResult  # noqa: E402
from moto.ec2.responses.security_groups import SecurityGroups as _SecurityGroupsResponse  # noqa: E402


def _returns_true(method):
    def wrapper(self):
        method(self)
        return ActionResult({"Return": True})
    return wrapper


# Gap: moto answers UpdateSecurityGroupRuleDescriptions{Ingress,Egress} with an empty body; AWS answers Return=true,
# which amazon.aws.ec2_security_group reads (KeyError 'Return' when a rule only changes its description).
for _name in ("update_security_group_rule_descriptions_ingress", "update_security_group_rule_descriptions_egress"):
    setattr(_SecurityGroupsResponse, _name, _returns_true(getattr(_SecurityGroupsResponse, _name)))


# --- EFS -----------------------------------------------------------------------------------------------------------
# Gap: community.aws.efs reads and writes tags with the legacy EFS tag API (DescribeTags GET /2015-02-01/tags/{id}/,
# CreateTags POST /2015-02-01/create-tags/{id}, DeleteTags POST /2015-02-01/delete-tags/{id}); moto only routes the
# newer TagResource family and answers 404. Route the legacy paths onto moto's own tag store.
efs_urls.url_paths["/2015-02-01/tags/<file_system_id>/"] = efs_urls.response.dispatch
efs_urls.url_paths["/2015-02-01/create-tags/<file_system_id>"] = efs_urls.response.dispatch
efs_urls.url_paths["/2015-02-01/delete-tags/<file_system_id>"] = efs_urls.response.dispatch


def _efs_fs_id(response):
    return response.uri_match.get("FileSystemId") or re.search(r"(fs-[0-9a-f]+)", response.path).group(1)


def _efs_describe_tags(self):
    tags = self.efs_backend.list_tags_for_resource(_efs_fs_id(self))
    return json.dumps({"Tags": tags}), {"Content-Type": "application/json"}


def _efs_create_tags(self):
    tags = {tag["Key"]: tag.get("Value") for tag in (self._get_param("Tags") or [])}
    self.efs_backend.tag_resource(_efs_fs_id(self), tags)
    return "", {"status": 204}


def _efs_delete_tags(self):
    self.efs_backend.untag_resource(_efs_fs_id(self), self._get_param("TagKeys") or [])
    return "", {"status": 204}


EFSResponse.describe_tags = _efs_describe_tags
EFSResponse.create_tags = _efs_create_tags
EFSResponse.delete_tags = _efs_delete_tags


# --- ELBv2 ----------------------------------------------------------------------------------------------------------
from moto.elbv2 import models as elbv2_models  # noqa: E402

_orig_lb_init = elbv2_models.FakeLoadBalancer.__init__

# What AWS answers in DescribeLoadBalancerAttributes for a new application load balancer.
_ALB_DEFAULT_ATTRIBUTES = {
    "idle_timeout.timeout_seconds": "60",
    "routing.http2.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "waf.fail_open.enabled": "false",
}


def _lb_init(self, *args, **kwargs):
    _orig_lb_init(self, *args, **kwargs)
    # Gap: moto returns only five attributes for a new ALB; AWS returns all of them with their defaults.
    # amazon.aws.elb_application_lb (http_drop_invalid_header_fields) reads
    # routing.http.drop_invalid_header_fields.enabled and crashes with KeyError when it is missing.
    if self.type == "application":
        for key, value in _ALB_DEFAULT_ATTRIBUTES.items():
            self.attrs.setdefault(key, value)


elbv2_models.FakeLoadBalancer.__init__ = _lb_init

_orig_create_lb = elbv2_models.ELBv2Backend.create_load_balancer


def _create_load_balancer(self, *args, **kwargs):
    # Gap: moto names every load balancer "<name>-1.<region>.elb.amazonaws.com"; in China AWS answers with the
    # partition's DNS suffix (".elb.amazonaws.com.cn").
    balancer = _orig_create_lb(self, *args, **kwargs)
    if dns_suffix(self.region_name) != "amazonaws.com" and balancer.dns_name.endswith(".amazonaws.com"):
        balancer.dns_name = balancer.dns_name[: -len("amazonaws.com")] + dns_suffix(self.region_name)
    return balancer


elbv2_models.ELBv2Backend.create_load_balancer = _create_load_balancer


# --- RDS -------------------------------------------------------------------------------------------------------------
from moto.rds import models as rds_models  # noqa: E402

_orig_rds_address = rds_models.DBInstance.address


def _rds_address(self):
    # Gap: moto gives every DB instance endpoint the ".rds.amazonaws.com" suffix; in China it is ".rds.amazonaws.com.cn".
    address = _orig_rds_address.fget(self)
    if dns_suffix(self.region) != "amazonaws.com" and address.endswith(".amazonaws.com"):
        address = address[: -len("amazonaws.com")] + dns_suffix(self.region)
    return address


rds_models.DBInstance.address = property(_rds_address)


# --- ElastiCache ---------------------------------------------------------------------------------------------------
_orig_backend_init = ec_models.ElastiCacheBackend.__init__


def _backend_init(self, region_name, account_id):
    _orig_backend_init(self, region_name, account_id)
    # Gap: moto only accepts "arn:aws:" ElastiCache ARNs in the tag APIs; China ARNs are "arn:aws-cn:".
    self.arn_regex = re.compile(r"^arn:aws[a-z-]*:elasticache:.*:[0-9]*:(cluster|snapshot|subnetgroup|replicationgroup|user):.*$")


ec_models.ElastiCacheBackend.__init__ = _backend_init

_orig_subnet_group_init = ec_models.CacheSubnetGroup.__init__


def _subnet_group_init(self, *args, **kwargs):
    _orig_subnet_group_init(self, *args, **kwargs)
    # Gap: moto hard-codes "arn:aws:" for cache subnet groups, whatever the region's partition.
    region = kwargs["region_name"] if "region_name" in kwargs else args[1]
    self.arn = re.sub(r"^arn:aws:", "arn:%s:" % get_partition(region), self.arn)


ec_models.CacheSubnetGroup.__init__ = _subnet_group_init

_orig_rg_init = ec_models.ReplicationGroup.__init__
# Region short names as ElastiCache writes them in endpoints: us-east-1 -> use1, cn-north-1 -> cnn1, cn-northwest-1 -> cnw1.
_DIRECTIONS = {"northwest": "nw", "northeast": "ne", "southwest": "sw", "southeast": "se", "central": "c"}


def _replication_group_init(self, *args, **kwargs):
    _orig_rg_init(self, *args, **kwargs)
    region = kwargs["region_name"]
    # Gap: moto builds every ReplicationGroup ARN as "arn:aws:" and every endpoint as "<...>.use1.cache.amazonaws.com",
    # whatever the region; AWS answers in the region's partition and DNS suffix (cn-north-1: arn:aws-cn:,
    # <...>.cnn1.cache.amazonaws.com.cn).
    self.arn = re.sub(r"^arn:aws:", "arn:%s:" % get_partition(region), self.arn)
    area, *words, number = region.split("-")
    short = area + "".join(_DIRECTIONS.get(word, word[:1]) for word in words) + number
    wrong = ".use1.cache.amazonaws.com"
    right = ".%s.cache.%s" % (short, dns_suffix(region))

    def fix(value):
        if isinstance(value, dict):
            return {key: fix(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fix(item) for item in value]
        if isinstance(value, str) and value.endswith(wrong):
            return value[: -len(wrong)] + right
        return value

    self.node_groups = fix(self.node_groups)


ec_models.ReplicationGroup.__init__ = _replication_group_init

_orig_create_rg = ec_models.ElastiCacheBackend.create_replication_group


def _create_replication_group(self, **kwargs):
    # Gap: with cluster mode disabled moto ignores NumCacheClusters and makes one node unless ReplicasPerNodeGroup is
    # sent; AWS makes NumCacheClusters nodes (primary + replicas). Translate, as AWS does.
    if kwargs.get("cluster_mode") != "enabled" and kwargs.get("num_cache_clusters") and not kwargs.get("replicas_per_node_group"):
        kwargs["replicas_per_node_group"] = kwargs["num_cache_clusters"] - 1
    return _orig_create_rg(self, **kwargs)


ec_models.ElastiCacheBackend.create_replication_group = _create_replication_group

_orig_delete_rg = ec_models.ElastiCacheBackend.delete_replication_group


def _delete_replication_group(self, replication_group_id, retain_primary_cluster):
    # Gap: moto marks a deleted replication group "deleting" and keeps it forever, so the
    # replication_group_deleted waiter never finishes; AWS removes it. Answer "deleting" once, then forget it.
    group = _orig_delete_rg(self, replication_group_id, retain_primary_cluster)
    self.replication_groups.pop(replication_group_id, None)
    self.tagging_service.delete_all_tags_for_resource(group.arn)
    return group


ec_models.ElastiCacheBackend.delete_replication_group = _delete_replication_group


def _delete_cache_subnet_group(self):
    # Gap: moto has no DeleteCacheSubnetGroup at all (community.aws.elasticache_subnet_group state=absent calls it).
    name = self._get_param("CacheSubnetGroupName")
    backend = self.elasticache_backend
    if name not in backend.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(name)
    group = backend.cache_subnet_groups.pop(name)
    backend.tagging_service.delete_all_tags_for_resource(group.arn)
    return EmptyResult()


ElastiCacheResponse.delete_cache_subnet_group = _delete_cache_subnet_group


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: moto_server.py PORT")
    server.main(["-H", "127.0.0.1", "-p", sys.argv[1]])
