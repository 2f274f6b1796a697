# The task only opens connections: the Genesys Cloud WebSocket and REST API,
# and the AWS APIs (through a NAT gateway or VPC endpoints), all on HTTPS.
# Nothing connects to it, so the group has no ingress rule. DNS queries to the
# VPC resolver need no rule: security groups do not filter that traffic.

resource "aws_security_group" "service" {
  name_prefix = "${var.name}-"
  description = "${var.name} task: no inbound traffic, outbound HTTPS only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { "Name" = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.service.id
  description       = "HTTPS to Genesys Cloud (REST and WebSocket) and to AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}
