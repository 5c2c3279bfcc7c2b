/* http_write.c - HTTP/1.1 heads written: reason phrases, responses and
 * the client role's requests */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http.h"

static const struct {
	int status;
	const char *reason;
} http_reasons[] = {
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 410, "Gone" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof http_reasons / sizeof http_reasons[0]; i++)
		if (http_reasons[i].status == status)
			return http_reasons[i].reason;
	return NULL;
}

/** @brief snprintf()'s result as the formatters promise it: the length,
 *  or -1 when it did not fit. */
static int http_fit(int n, size_t outlen)
{
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int http_format_response(char *out, size_t outlen, int status,
			 const char *extra_headers, const char *body)
{
	const char *reason = http_reason(status);
	const char *extra = extra_headers ? extra_headers : "";

	if (!reason || ((status < 200 || status == 204) && body))
		return -1;
	/* 204 has no body and no Content-Length (RFC 9110, 8.6). */
	if (status == 204)
		return http_fit(snprintf(out, outlen,
					 "HTTP/1.1 204 No Content\r\n"
					 "Connection: close\r\n%s\r\n", extra),
				outlen);
	if (status < 200)
		return http_fit(snprintf(out, outlen, "HTTP/1.1 %d %s\r\n%s\r\n",
					 status, reason, extra), outlen);
	if (!body)
		body = "";
	return http_fit(snprintf(out, outlen,
				 "HTTP/1.1 %d %s\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: %zu\r\n"
				 "Connection: close\r\n"
				 "%s\r\n%s",
				 status, reason, strlen(body), extra, body),
			outlen);
}

int http_format_connect_ok(char *out, size_t outlen,
			   const char *extra_headers)
{
	return http_fit(snprintf(out, outlen,
				 "HTTP/1.1 200 Connection established\r\n%s\r\n",
				 extra_headers ? extra_headers : ""), outlen);
}

int http_format_request(char *out, size_t outlen, const char *method,
			const char *target, const char *host,
			const char *extra_headers)
{
	return http_fit(snprintf(out, outlen,
				 "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
				 method, target, host,
				 extra_headers ? extra_headers : ""), outlen);
}
