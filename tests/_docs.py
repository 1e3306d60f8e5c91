"""The example answers printed on the service's documentation pages, in one place.

Copied verbatim from the Mailkit API documentation pages (one per function): the XML-RPC
answers as bytes, exactly as the pages print them (indentation, stray tabs and all), the JSON
answers as the dicts they decode to, keys in the pages' order. Named per function and case:
``<FUNCTION>_<CASE>_XML`` and ``<FUNCTION>_<CASE>_JSON``.

Tests that need something else (a real date instead of a placeholder, an extra key) derive it
from these where they use it and say why; nothing here is to be edited or mutated.
"""

from __future__ import annotations

from typing import Any

from mailkit_async import Bounce

# --- mailkit.campaigns.single.schedule ("Po úspěšném volání" / "Po neúspěšném volání") -----------

SCHEDULE_OK_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
 <params>
  <param>
   <value>
    <string>OK, send_date: rrrr-mm-dd hh:mm:ss</string>
   </value>
  </param>
 </params>
</methodResponse>
"""
SCHEDULE_OK_JSON: dict[str, Any] = {
    "error": "OK, send_date: 2022-05-13 12:45:00 (Europe/Prague)",
    "error_status": 0,
}

SCHEDULE_FAILED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
 <params>
  <param>
   <value>
    <string>Missing send date of campaign</string>
   </value>
  </param>
 </params>
</methodResponse>
"""
SCHEDULE_FAILED_JSON: dict[str, Any] = {
    "error": "Missing send date of campaign",
    "error_status": 1,
}

# --- mailkit.email.revalidate ("Po úspěšném volání" / "Příklad neúspěšného volání") ---------------

REVALIDATE_OK_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
  <params>
    <param>
      <value>
        <string>example@example.cz</string>
      </value>
    </param>
  </params>
</methodResponse>
"""
REVALIDATE_OK_JSON: dict[str, Any] = {
    "email": "email@example.com",
    "error_status": 0,
    "ID_email": "123456789",
    "error": "Sent subscribe email",
}

REVALIDATE_FAILED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
  <params>
    <param>
      <value>
        <string>example@example.cz is not unsubscribed</string>
      </value>
    </param>
  </params>
</methodResponse>
"""
REVALIDATE_FAILED_JSON: dict[str, Any] = {
    "error_status": 0,
    "ID_email": "123456789",
    "error": "Email is not unsubscribed",
    "email": "sample@samplemail.com",
}

# --- mailkit.email.unsubscribe ("Po úspěšném volání" / "Příklad neúspěšného volání") --------------

UNSUBSCRIBE_OK_XML = b"""<?xml version="1.0" encoding="utf-8"?>
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
UNSUBSCRIBE_OK_JSON: dict[str, Any] = {
    "error_status": "0",
    "ID_email": "123456789",
    "status": "1",
}

UNSUBSCRIBE_FAILED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
  <params>
    <param>
      <value>
        <string>Invalid ID_email or email</string>
      </value>
    </param>
  </params>
</methodResponse>
"""
UNSUBSCRIBE_FAILED_JSON: dict[str, Any] = {
    "error_status": 1,
    "error": "Missing ID_email or email",
}

# --- mailkit.sendmail_mass.results ("bez chyb" / "s chybami") --------------------------------------

MASS_RESULTS_OK_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
 <params>
  <param>
   <value>
    <struct>
     <member>
      <name>status</name>
      <value>
       <string>OK</string>
      </value>
     </member>
    </struct>
   </value>
  </param>
 </params>
</methodResponse>
"""
MASS_RESULTS_OK_JSON: dict[str, Any] = {
    "error_status": 0,
    "status": "OK",
}

# The page indents four of the seven members with tabs: kept, they are part of the example.
MASS_RESULTS_ERRORS_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
 <params>
  <param>
   <value>
    <struct>
     <member>
      <name>status</name>
      <value>
       <string>ERROR</string>
      </value>
     </member>
     <member>
      <name>results</name>
      <value>
       <array>
        <data>
         <value>
          <struct>
           <member>
            <name>ERROR_CODE</name>
            <value>
             <i4>1</i4>
            </value>
           </member>
\t\t\t\t\t <member>
            <name>INFO</name>
            <value>
             <string>url return null</string>
            </value>
           </member>
\t\t\t\t\t <member>
            <name>DATE</name>
            <value>
             <string>2015-05-13 09:43:50</string>
            </value>
           </member>
           <member>
            <name>ID_EMAIL</name>
            <value>
             <i4>123456789</i4>
            </value>
           </member>
\t\t\t\t\t <member>
            <name>EMAIL</name>
            <value>
             <string>mail@mail.cz</string>
            </value>
           </member>
           <member>
            <name>ID_SEND</name>
            <value>
             <i4>12345</i4>
            </value>
           </member>
\t\t\t\t\t <member>
            <name>ID_SEND_MESSAGE</name>
            <value>
             <i4>123456789</i4>
            </value>
           </member>
          </struct>
         </value>
        </data>
       </array>
      </value>
     </member>
    </struct>
   </value>
  </param>
 </params>
</methodResponse>
"""
MASS_RESULTS_ERRORS_JSON: dict[str, Any] = {
    "error_status": 1,
    "status": "ERROR",
    "results": [
        {
            "ID_SEND_MESSAGE": 0,
            "ID_SEND": 0,
            "ID_EMAIL": 0,
            "DATE": "2020-09-07 14:24:13",
            "EMAIL": "mail@mail.cz",
            "ERROR_CODE": 4,
            "INFO": "missing mailinglist_id",
        }
    ],
}

# --- mailkit.report.raw.bounces (one page of two records) -----------------------------------------

RAW_BOUNCES_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<methodResponse>
 <params>
  <param>
   <value>
    <array>
     <data>
      <value>
       <struct>
        <member>
         <name>ID_MESSAGE</name>
         <value>
          <i4>12345</i4>
         </value>
        </member>
        <member>
         <name>TEXT_STATUS</name>
         <value>
          <string>smtp; 552 4.2.2 User has full mailbox.</string>
         </value>
        </member>
        <member>
         <name>STATUS</name>
         <value>
          <string>4.2.2</string>
         </value>
        </member>
        <member>
         <name>ID_EMAIL</name>
         <value>
          <i4>1234567890</i4>
         </value>
        </member>
        <member>
         <name>ID_SEND</name>
         <value>
          <i4>123456</i4>
         </value>
        </member>
        <member>
         <name>EMAIL</name>
         <value>
          <string>email@example.com</string>
         </value>
        </member>
        <member>
         <name>ID_SEND_MESSGE</name>
         <value>
          <i4>1234567890</i4>
         </value>
        </member>
        <member>
         <name>ID_USER_LIST</name>
         <value>
          <i4>12345</i4>
         </value>
        </member>
        <member>
         <name>REMOTE_MTA</name>
         <value>
          <string>dns; mx1.seznam.cz</string>
         </value>
        </member>
        <member>
         <name>ID_UNDELIVERED_LOG</name>
         <value>
          <i4>1</i4>
         </value>
        </member>
        <member>
         <name>RECIPIENT_STATUS</name>
         <value>
          <string>permanent</string>
         </value>
        </member>
       </struct>
      </value>
      <value>
       <struct>
        <member>
         <name>ID_MESSAGE</name>
         <value>
          <i4>12345</i4>
         </value>
        </member>
        <member>
         <name>TEXT_STATUS</name>
         <value>
          <string></string>
         </value>
        </member>
        <member>
         <name>STATUS</name>
         <value>
          <string>5.2.2</string>
         </value>
        </member>
        <member>
         <name>ID_EMAIL</name>
         <value>
          <i4>1234567891</i4>
         </value>
        </member>
        <member>
         <name>ID_SEND</name>
         <value>
          <i4>123456</i4>
         </value>
        </member>
        <member>
         <name>EMAIL</name>
         <value>
          <string>email1@example.com</string>
         </value>
        </member>
        <member>
         <name>ID_SEND_MESSGE</name>
         <value>
          <i4>1234567891</i4>
         </value>
        </member>
        <member>
         <name>ID_USER_LIST</name>
         <value>
          <i4>12345</i4>
         </value>
        </member>
        <member>
         <name>REMOTE_MTA</name>
         <value>
          <string></string>
         </value>
        </member>
        <member>
         <name>ID_UNDELIVERED_LOG</name>
         <value>
          <i4>2</i4>
         </value>
        </member>
        <member>
         <name>RECIPIENT_STATUS</name>
         <value>
          <string>temporary</string>
         </value>
        </member>
       </struct>
      </value>
     </data>
    </array>
   </value>
  </param>
 </params>
</methodResponse>
"""
# Its first record as the client types it (msgspec's lax conversion of the strings).
RAW_BOUNCES_XML_FIRST = Bounce(
    message_id=12345,
    text_status="smtp; 552 4.2.2 User has full mailbox.",
    status="4.2.2",
    email_id=1234567890,
    send_id=123456,
    email="email@example.com",
    send_message_id=1234567890,
    user_list_id=12345,
    remote_mta="dns; mx1.seznam.cz",
    undelivered_log_id=1,
    recipient_status="permanent",
)
RAW_BOUNCES_JSON: list[dict[str, Any]] = [
    {
        "ID_MESSAGE": "12345",
        "TEXT_STATUS": "X-Postfix; Mailbox is full",
        "STATUS": "5.2.2",
        "ID_EMAIL": "1234567890",
        "ID_SEND": "123456",
        "EMAIL": "email@example.com",
        "ID_SEND_MESSGE": "1234567890",
        "ID_USER_LIST": "12345",
        "REMOTE_MTA": "",
        "ID_UNDELIVERED_LOG": "1",
        "RECIPIENT_STATUS": "permanent",
    },
    {
        "ID_MESSAGE": "12345",
        "TEXT_STATUS": "X-Postfix; Mailbox is full",
        "STATUS": "5.2.2",
        "ID_EMAIL": "1234567891",
        "ID_SEND": "123456",
        "EMAIL": "email1@example.com",
        "ID_SEND_MESSGE": "1234567891",
        "ID_USER_LIST": "12345",
        "REMOTE_MTA": "",
        "ID_UNDELIVERED_LOG": "2",
        "RECIPIENT_STATUS": "temporary",
    },
]
