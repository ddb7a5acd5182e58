"""Local AWS sandbox: a moto server on loopback with the gaps mailstep needs filled.

Used by the Terraform tests (apply/re-plan/destroy of the root module), by
``scripts/tf.sh`` when there are no AWS credentials, and later by ``make demo``.
Never packaged into the Lambda zip (moto is a development dependency).
"""
