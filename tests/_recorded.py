"""Answers recorded from the real service by other public clients, in their own test fixtures.

They differ from the documentation pages (`tests/_docs.py`) in small ways: an optional field
missing, an outcome text where the page shows an address. Each is copied verbatim (bytes as the
fixture file holds them) and names the repository and path it comes from. Nothing here is to be
edited or mutated.
"""

from __future__ import annotations

# mailkit/mailkit-api (the service's own PHP client),
# tests/IgloonetTests/MailkitApi/mock-files/api-data/json/mailkit.email.unsubscribe.example@example.cz.json
# The page shows "status"; the recorded answer has none.
PHP_UNSUBSCRIBE_OK_JSON = b'{"error_status": 0, "ID_email": "282837490"}\n'

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/xml/mailkit.email.unsubscribe.example@example.cz.xml
PHP_UNSUBSCRIBE_OK_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
    <params>
        <param>
            <value>
                <i4>282837490</i4>
            </value>
        </param>
    </params>
</methodResponse>
"""

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/json/mailkit.email.unsubscribe.doesNotExist.json
PHP_UNSUBSCRIBE_FAILED_JSON = b'{"error": "Invalid ID_email or email", "error_status": 1}\n'

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/xml/mailkit.email.unsubscribe.doesNotExist.xml
PHP_UNSUBSCRIBE_FAILED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
    <params>
        <param>
            <value>
                <string>Invalid ID_email or email</string>
            </value>
        </param>
    </params>
</methodResponse>"""

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/json/mailkit.email.revalidate.example@example.cz.json
PHP_REVALIDATE_OK_JSON = b'{"error": "Email has been revalidated", "error_status": 0}\n'

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/xml/mailkit.email.revalidate.example@example.cz.xml
# The page shows the address as the answer; the recorded one is the outcome text.
PHP_REVALIDATE_OK_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
    <params>
        <param>
            <value>
                <string>Email has been revalidated</string>
            </value>
        </param>
    </params>
</methodResponse>
"""

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/json/mailkit.email.revalidate.doesNotExist.json
# "is not unsubscribed" with error_status 1 (the page shows 0).
PHP_REVALIDATE_NOT_UNSUBSCRIBED_JSON = b'{"error": "doesNotExist is not unsubscribed", "error_status": 1}\n'

# mailkit/mailkit-api, tests/IgloonetTests/MailkitApi/mock-files/api-data/xml/mailkit.email.revalidate.doesNotExist.xml
PHP_REVALIDATE_NOT_UNSUBSCRIBED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
    <params>
        <param>
            <value>
                <string>doesNotExist is not unsubscribed</string>
            </value>
        </param>
    </params>
</methodResponse>"""

# davidesner/keboola-mailkit-ex, src/main/java/keboola/mailkit/extractor/mailkitapi/response/RawBounce.java
# (the Java client's record: every field a string, in this order) and
# keboola/component-mailkit-extractor, src/mailkit_client.py (pages by the last record's
# ID_UNDELIVERED_LOG, sent back as the next start: the inclusive reading).
JAVA_RAW_BOUNCE_FIELDS = (
    "ID_MESSAGE",
    "TEXT_STATUS",
    "STATUS",
    "ID_EMAIL",
    "ID_SEND",
    "EMAIL",
    "ID_SEND_MESSGE",
    "ID_USER_LIST",
    "REMOTE_MTA",
    "ID_UNDELIVERED_LOG",
)

# The service's English raw.bounces page: real records carry these beyond the Czech page's.
ENGLISH_PAGE_EXTRA_FIELDS = {
    "BOUNCE_CAT": "bad-mailbox",
    "UTM_CAMPAIGN": "spring-sale",
    "CAMPAIGN_NAME": "Jarní výprodej",
    "SUBJECT": "Slevy až 50 %",
}
