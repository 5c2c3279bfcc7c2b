/* hc.h - the Azure Relay Hybrid Connections protocol: relay URLs, SAS
 * tokens, and the listener's JSON control messages
 *
 * Nothing here does I/O or keeps state. Tokens are the ones Microsoft's
 * hyco-ws createRelayToken() makes:
 *
 *   SharedAccessSignature sr=ENC(URI)&sig=ENC(BASE64(HMAC-SHA256(key,
 *	ENC(URI) "\n" SE)))&se=SE&skn=KEYNAME
 *
 * where ENC is JavaScript's encodeURIComponent, URI the resource
 * ("http://HOST/PATH"), SE the expiry in Unix seconds, and the key the
 * key string's own bytes (an Azure key is base64 text; it is not
 * decoded). The control messages are the relay's "accept" to a listener
 * and the listener's "renewToken".
 */
#ifndef SSLTUNNEL_HC_H
#define SSLTUNNEL_HC_H

#include <stddef.h>

#define HC_HOST_MAX 254		/* a DNS name (253) and NUL */
#define HC_PATH_MAX 256		/* entity path, e.g. "db" or "a/b", NUL included */
#define HC_TOKEN_MAX 2048
#define HC_KEYNAME_MAX 256
#define HC_ID_MAX 128
#define HC_HEADERS_MAX 32

/* "wss://HOST[:PORT]/$hc/PATH[?query]" */
struct hc_url {
	char host[HC_HOST_MAX];	/* lower case; an IPv6 literal without [] */
	unsigned port;		/* 443 if absent */
	char path[HC_PATH_MAX];	/* without "$hc/", no leading or trailing '/' */
};

/** @brief Parse a relay URL "wss://HOST[:PORT]/$hc/PATH[?query]" into @u.
 *  The scheme is wss (any case), nothing else; HOST is a DNS name
 *  (letters, digits, '-', '.', '_'; stored in lower case) or an IPv6
 *  literal in brackets (stored without them); PORT is 1 to 65535 without
 *  leading zeros; no user info, no fragment. PATH must follow "/$hc/",
 *  be non-empty, and have no empty, "." or ".." segment (so no leading or
 *  trailing '/'); its bytes are RFC 3986 pchars without percent-escapes.
 *  The query is not stored, but may hold no control character or space.
 *  Returns 0, or -1 with the reason in @err. */
int hc_url_parse(const char *s, struct hc_url *u, char *err, size_t errlen);

/** @brief encodeURIComponent of the @n bytes at @s, exactly as
 *  JavaScript does it for their UTF-8: A-Z a-z 0-9 - _ . ! ~ * ' ( )
 *  stay, every other byte becomes %XX in upper-case hex. Writes a
 *  NUL-terminated string to @out; returns its length, or -1 when it
 *  does not fit in @outlen. */
int hc_uri_encode(const char *s, size_t n, char *out, size_t outlen);

/** @brief Percent-decode the @n bytes at @s strictly, as
 *  decodeURIComponent would: every '%' starts two hex digits, the result
 *  is valid UTF-8 (no overlong forms, surrogates or code points past
 *  U+10FFFF), and raw bytes are printable ASCII other than space ('+'
 *  stays '+'). Writes a NUL-terminated string to @out; returns its length
 *  (a decoded "%00" is refused, so it is also strlen), or -1. */
int hc_uri_decode(const char *s, size_t n, char *out, size_t outlen);

/** @brief Make the SAS token hyco-ws makes for the resource
 *  "http://HOST/PATH" (@host without a port, as hc_url keeps it: an IPv6
 *  address, two colons or more, is put in brackets, and letters are put
 *  in lower case, as node's url.parse leaves them) with key @key_name
 *  and the @keylen bytes of @key, expiring at @expiry (Unix seconds).
 *  The key name is encodeURIComponent'd (hyco-ws puts it raw: the same
 *  for any name of unreserved characters, and Azure's own names are).
 *  Writes a NUL-terminated token to @out; returns 0, or -1 if it does
 *  not fit in @outlen or @expiry is negative. */
int hc_token_make(const char *host, const char *path, const char *key_name,
		  const char *key, size_t keylen, long long expiry, char *out,
		  size_t outlen);

struct hc_token {
	char sr[HC_TOKEN_MAX];	/* as sent, still percent-encoded: this is what was signed */
	char sr_dec[HC_TOKEN_MAX];	/* decoded */
	unsigned char sig[64];	/* base64-decoded signature */
	size_t siglen;
	long long se;
	char skn[HC_KEYNAME_MAX];	/* decoded */
};

/** @brief Parse the @len bytes at @s as "SharedAccessSignature k=v&k=v..."
 *  into @t: the scheme word in any case, then spaces, then fields in any
 *  order, unknown ones ignored, each of sr, sig, se and skn exactly once
 *  and non-empty. sr and skn must percent-decode (hc_uri_decode) into
 *  text without control characters; sig must be padded base64 of 1 to
 *  64 bytes once decoded; se is decimal without sign or leading zero.
 *  Blanks around the whole are allowed. Returns 0, or -1 with @err naming
 *  the problem ("token: no skn field"); @err never holds the signature
 *  or the token. */
int hc_token_parse(const char *s, size_t len, struct hc_token *t, char *err,
		   size_t errlen);

/* What hc_token_verify returns when a token is refused. */
enum { HC_E_SIG = -1, HC_E_EXPIRED = -2, HC_E_SCOPE = -3 };

/** @brief Check the parsed token @t for a request on @host (as the Host
 *  header gives it: any ":port" is ignored, case too; an IPv6 literal
 *  with or without brackets) for entity path @path ("db"; leading and
 *  trailing '/' ignored) at time @now, with the @keylen bytes of @key.
 *  In this order: the HMAC-SHA256 over t->sr "\n" t->se in decimal must
 *  equal t->sig (compared in constant time), else HC_E_SIG; t->se must
 *  be after @now, else HC_E_EXPIRED; t->sr_dec must be a URL (scheme
 *  http, https, sb, ws or wss) for the same host, port ignored, whose
 *  path, less any "$hc/" prefix and trailing '/', covers @path at a
 *  segment boundary ("" covers everything, "db" covers "db" and "db/x"
 *  but not "dbx"; compared byte for byte), else HC_E_SCOPE. Returns 0
 *  when valid, else the code with @err saying which, without secrets. */
int hc_token_verify(const struct hc_token *t, const char *key, size_t keylen,
		    const char *host, const char *path, long long now,
		    char *err, size_t errlen);

/* One header of the WebSocket request a sender made to the relay. */
struct hc_header {
	const char *name;
	size_t namelen;
	const char *value;
	size_t valuelen;
};

/** @brief Write the relay's accept message to a listener, compact JSON:
 *  {"accept":{"address":ADDRESS,"id":ID,"connectHeaders":{NAME:VALUE,...},
 *  "remoteEndpoint":{"address":RADDR,"port":RPORT}}}, the @nh headers
 *  at @h in order with their names as given (a later duplicate replaces
 *  an earlier one), remoteEndpoint left out when @raddr is NULL. Strings
 *  are escaped by jansson. Returns the length written (a NUL follows
 *  when it fits), or -1 when it does not fit in @outlen or a string is
 *  not UTF-8 (or a name holds a NUL). */
int hc_accept_build(char *out, size_t outlen, const char *address,
		    const char *id, const struct hc_header *h, size_t nh,
		    const char *raddr, unsigned rport);

/* Our listener's view of a control message (a text frame's payload). */
enum hc_msg_type {
	HC_MSG_ACCEPT = 1,
	HC_MSG_RENEW = 2,
	HC_MSG_OTHER = 3,	/* valid JSON object, unknown key: ignore */
};

struct hc_accept {
	char address[1024];	/* the rendezvous URL */
	char id[HC_ID_MAX];	/* "" if absent */
	char raddr[64];		/* remoteEndpoint, "" / 0 if absent */
	unsigned rport;
	/* from connectHeaders, case-insensitive lookup, "" if absent; the
	 * rest ignored */
	char host[HC_HOST_MAX];
};

struct hc_renew {
	char token[HC_TOKEN_MAX];
};

/** @brief Parse the control message in the @len bytes at @json. An
 *  object with "accept" (an object with a string "address"; optional
 *  string "id", object "connectHeaders" whose Host, in any case and at
 *  most once, must be a string, object "remoteEndpoint" with string
 *  "address" and integer "port" 0..65535) is HC_MSG_ACCEPT, and fills
 *  @a; else one with "renewToken" (an object with a string "token") is
 *  HC_MSG_RENEW, and fills @r; any other object is HC_MSG_OTHER. Each
 *  string must fit its field and hold no control character. Either of
 *  @a and @r may be NULL; the checks are the same. Returns the enum
 *  hc_msg_type, or -1 with @err (not JSON, not an object, duplicate keys,
 *  accept without address, a field that does not fit, ...). */
int hc_msg_parse(const char *json, size_t len, struct hc_accept *a,
		 struct hc_renew *r, char *err, size_t errlen);

/** @brief Write {"renewToken":{"token":TOKEN}} to @out; returns the length
 *  (a NUL follows when it fits), or -1 when it does not fit in @outlen
 *  or @token is not UTF-8. */
int hc_renew_build(char *out, size_t outlen, const char *token);

#endif
