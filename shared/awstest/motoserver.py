"""moto's server, with PutSecretValue as AWS answers it.

AWS refuses PutSecretValue on a secret scheduled for deletion with
InvalidRequestException ("The secret is scheduled for deletion",
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html);
moto (checked on 5.2.1) accepts it silently and leaves the secret deleted.
The service learns a secret's state from that error instead of asking
first, so its tests (and a local server on moto) need it:

    python3 shared/awstest/motoserver.py -H 127.0.0.1 -p 5000
"""

import sys

from moto.secretsmanager import models
from moto.secretsmanager.exceptions import InvalidRequestException
from moto.server import main

_put_secret_value = models.SecretsManagerBackend.put_secret_value


def put_secret_value(self, secret_id, *args, **kwargs):
    secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
    if secret is not None and getattr(secret, "is_deleted", lambda: False)():
        raise InvalidRequestException(
            "You can't perform this operation on the secret because it was marked for deletion."
        )
    return _put_secret_value(self, secret_id, *args, **kwargs)


models.SecretsManagerBackend.put_secret_value = put_secret_value

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
