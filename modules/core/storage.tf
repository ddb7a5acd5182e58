# DynamoDB tables (runtime contract, DESIGN 4.2) and the templates bucket.

resource "aws_dynamodb_table" "main" {
  name                        = "${var.name_prefix}-main"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = local.tags
}

resource "aws_dynamodb_table" "events" {
  name                        = "${var.name_prefix}-events"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "PK"
  range_key                   = "SK"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  attribute {
    name = "template_key"
    type = "S"
  }

  attribute {
    name = "sequence_id"
    type = "S"
  }

  global_secondary_index {
    name            = "by_template"
    hash_key        = "template_key"
    range_key       = "SK"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_sequence"
    hash_key        = "sequence_id"
    range_key       = "SK"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = local.tags
}

# Templates bucket: private, encrypted, owner-enforced. The account id keeps the
# global name unique; IAM role names already make name_prefix unique per account.
resource "aws_s3_bucket" "templates" {
  bucket        = "${var.name_prefix}-templates-${local.account_id}"
  force_destroy = var.templates_bucket_force_destroy

  tags = local.tags
}

resource "aws_s3_bucket_public_access_block" "templates" {
  bucket = aws_s3_bucket.templates.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "templates" {
  bucket = aws_s3_bucket.templates.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "templates" {
  bucket = aws_s3_bucket.templates.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "templates" {
  count = var.templates_bucket_versioning ? 1 : 0

  bucket = aws_s3_bucket.templates.id

  versioning_configuration {
    status = "Enabled"
  }
}

# TLS only: deny any request to the bucket that is not over HTTPS.
data "aws_iam_policy_document" "templates_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.templates.arn, "${aws_s3_bucket.templates.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "templates" {
  bucket = aws_s3_bucket.templates.id
  policy = data.aws_iam_policy_document.templates_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.templates]
}

locals {
  content_types = {
    html = "text/html; charset=utf-8"
    htm  = "text/html; charset=utf-8"
    txt  = "text/plain; charset=utf-8"
    json = "application/json"
    css  = "text/css; charset=utf-8"
    png  = "image/png"
    jpg  = "image/jpeg"
    jpeg = "image/jpeg"
    gif  = "image/gif"
    svg  = "image/svg+xml"
  }

  # Hidden files (.gitkeep, editor swap files) are not templates.
  template_files = var.templates_dir == null ? toset([]) : toset([
    for f in fileset(var.templates_dir, "**") : f
    if !startswith(basename(f), ".")
  ])
}

# One object per file: the key is the path relative to templates_dir. An edit
# changes source_hash (and etag) and re-uploads; a deleted file leaves the set and
# Terraform deletes the object.
resource "aws_s3_object" "template" {
  for_each = local.template_files

  bucket       = aws_s3_bucket.templates.id
  key          = each.key
  source       = "${var.templates_dir}/${each.key}"
  source_hash  = filemd5("${var.templates_dir}/${each.key}")
  content_type = lookup(local.content_types, lower(reverse(split(".", each.key))[0]), "application/octet-stream")

  # With SSE-KMS the ETag is no MD5: compare it only under SSE-S3, where it also
  # reveals objects changed behind Terraform's back.
  etag = var.kms_key_arn == null ? filemd5("${var.templates_dir}/${each.key}") : null

  tags = local.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.templates]
}
