package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.tandem.protocol.config.InvalidConfigException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A web page on another origin calls the API as a browser does: a preflight without an API key,
 * then the request, whose answer (an error object too) must name the page's origin as allowed.
 */
class CorsTest {
  static final String PAGE = "http://localhost:3000";
  static final String CHAT = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}";

  static HttpResponse<String> send(TestServer server, String method, String path, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.base + path)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) b.headers(headers);
    return server.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> preflight(TestServer server, String origin, String method, String requestHeaders) throws Exception {
    return send(server, "OPTIONS", "/v1/chat/completions", null, "Origin", origin, "Access-Control-Request-Method", method,
        "Access-Control-Request-Headers", requestHeaders);
  }

  static String message(HttpResponse<String> r) throws Exception {
    return new ObjectMapper().readTree(r.body()).at("/error/message").asText();
  }

  static Optional<String> allowOrigin(HttpResponse<?> r) {
    return r.headers().firstValue("Access-Control-Allow-Origin");
  }

  /** The server's own headers a page's script reads: the request's id and the SDKs' retry advice. */
  static final String EXPOSED = "X-Request-Id, Retry-After, retry-after-ms, x-should-retry";

  static Optional<String> exposed(HttpResponse<?> r) {
    return r.headers().firstValue("Access-Control-Expose-Headers");
  }

  /**
   * What a page's request that akka-http cannot parse (a target that is not a URI, as a page that
   * builds a path from user input without encoding it sends) gets back: an error object, before any
   * route and without the request's {@code Origin} read.
   */
  static RawExchange unparsable(TestServer server) throws Exception {
    RawExchange r = RawExchange.send(server, "GET /v1/models/<x> HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + PAGE
        + "\r\nConnection: close\r\n\r\n");
    assertEquals(400, r.status(), r.head() + r.body());
    assertTrue(r.body().contains("\"code\":\"malformed_request\""), r.body());
    return r;
  }

  /** vLLM's defaults: every origin, method and header, no credentials; the server requires API keys. */
  @Nested
  class ByDefault {
    @RegisterExtension
    static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = sk-web, tenant = web}]\n");

    @Test
    void aPreflightIsAnsweredWithoutAnApiKeyAllowingTheMethodAndTheAskedHeaders() throws Exception {
      HttpResponse<String> r = preflight(server, PAGE, "POST", "authorization, content-type, x-stainless-os");
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("*", allowOrigin(r).orElseThrow());
      assertTrue(r.headers().firstValue("Access-Control-Allow-Methods").orElseThrow().contains("POST"), r.headers().toString());
      assertEquals("authorization, content-type, x-stainless-os",
          r.headers().firstValue("Access-Control-Allow-Headers").orElseThrow().toLowerCase());
      assertEquals("600", r.headers().firstValue("Access-Control-Max-Age").orElseThrow());
      assertFalse(r.headers().firstValue("Access-Control-Allow-Credentials").isPresent());
      assertEquals(Optional.empty(), exposed(r), "a preflight's headers are read by no script");
    }

    /**
     * Without Access-Control-Expose-Headers a page's script sees none of the server's own headers:
     * not the id a bug report names, nor how long to wait before a retry.
     */
    @Test
    void thePageMayReadTheRequestIdAndTheRetryAdvice() throws Exception {
      HttpResponse<String> ok = send(server, "GET", "/v1/models", null, "Origin", PAGE, "Authorization", "Bearer sk-web");
      assertEquals(200, ok.statusCode(), ok.body());
      assertEquals(Optional.of(EXPOSED), exposed(ok));
      HttpResponse<String> noKey = send(server, "GET", "/v1/models", null, "Origin", PAGE);
      assertEquals(401, noKey.statusCode(), noKey.body());
      assertEquals(Optional.of(EXPOSED), exposed(noKey));
      assertEquals(Optional.of(EXPOSED), unparsable(server).header("Access-Control-Expose-Headers"));
      HttpResponse<String> noOrigin = send(server, "GET", "/v1/models", null, "Authorization", "Bearer sk-web");
      assertEquals(Optional.empty(), exposed(noOrigin), "not a cross-origin request");
    }

    @Test
    void theAnswersCarryTheAllowedOriginErrorObjectsToo() throws Exception {
      HttpResponse<String> ok = send(server, "POST", "/v1/chat/completions", CHAT, "Origin", PAGE,
          "Authorization", "Bearer sk-web", "Content-Type", "application/json");
      assertEquals(200, ok.statusCode(), ok.body());
      assertEquals("*", allowOrigin(ok).orElseThrow());

      HttpResponse<String> noKey = send(server, "POST", "/v1/chat/completions", CHAT, "Origin", PAGE);
      assertEquals(401, noKey.statusCode(), noKey.body());
      assertEquals("*", allowOrigin(noKey).orElseThrow(), "the page can read why it was refused");
      assertTrue(noKey.body().contains("\"error\""), noKey.body());

      HttpResponse<String> bad = send(server, "POST", "/v1/chat/completions", "{\"messages\": 3}", "Origin", PAGE,
          "Authorization", "Bearer sk-web", "Content-Type", "application/json");
      assertEquals(400, bad.statusCode(), bad.body());
      assertEquals("*", allowOrigin(bad).orElseThrow());

      HttpResponse<String> wrongMethod = send(server, "GET", "/v1/chat/completions", null, "Origin", PAGE,
          "Authorization", "Bearer sk-web");
      assertEquals(405, wrongMethod.statusCode(), wrongMethod.body());
      assertEquals("*", allowOrigin(wrongMethod).orElseThrow());
    }

    /** With every origin allowed the answer is the same whatever the page: it can read why. */
    @Test
    void aRequestTheServerCannotParseIsAnsweredSoThatThePageCanReadTheError() throws Exception {
      RawExchange r = unparsable(server);
      assertEquals(Optional.of("*"), r.header("Access-Control-Allow-Origin"), r.head());
      assertFalse(r.header("Access-Control-Allow-Credentials").isPresent(), r.head());
    }

    @Test
    void aRequestWithoutOriginAndAnOptionsThatIsNoPreflightGetNoCorsAnswer() throws Exception {
      HttpResponse<String> plain = send(server, "GET", "/health", null);
      assertEquals(200, plain.statusCode());
      assertFalse(allowOrigin(plain).isPresent(), "not a cross-origin request");
      HttpResponse<String> options = send(server, "OPTIONS", "/v1/chat/completions", null);
      assertEquals(200, options.statusCode(), options.body());
      assertEquals(Optional.of("POST, OPTIONS"), options.headers().firstValue("Allow"), options.headers().toString());
      assertFalse(options.headers().firstValue("Access-Control-Allow-Methods").isPresent(), options.headers().toString());
    }
  }

  /** An operator who lists the origins and allows credentials. */
  @Nested
  class Restricted {
    @RegisterExtension
    static final TestServer server = TestServer.start("tandem.http.allowed-origins = [\"" + PAGE + "\", \"null\","
        + " \"HTTP://UPPER.EXAMPLE\"]\n"
        + "tandem.http.allowed-methods = [GET, POST]\n"
        + "tandem.http.allowed-headers = [Authorization]\n"
        + "tandem.http.allow-credentials = true\n");

    @Test
    void anAllowedOriginIsNamedWithCredentialsAndVary() throws Exception {
      HttpResponse<String> r = preflight(server, PAGE, "POST", "Authorization, Content-Type");
      assertEquals(200, r.statusCode(), r.body());
      assertEquals(PAGE, allowOrigin(r).orElseThrow());
      assertEquals("true", r.headers().firstValue("Access-Control-Allow-Credentials").orElseThrow());
      assertEquals("Origin", r.headers().firstValue("Vary").orElseThrow());
      HttpResponse<String> models = send(server, "GET", "/v1/models", null, "Origin", PAGE);
      assertEquals(200, models.statusCode(), models.body());
      assertEquals(PAGE, allowOrigin(models).orElseThrow());
    }

    /**
     * A page opened from a file or in a sandboxed iframe sends {@code Origin: null}, which may be
     * listed as Starlette lists it; browsers send scheme and host in lower case, which an origin
     * listed in capitals is taken as.
     */
    @Test
    void theNullOriginAndAnOriginListedInCapitalsArePreflightedAsBrowsersSendThem() throws Exception {
      for (String origin : new String[] {"null", "http://upper.example"}) {
        HttpResponse<String> r = preflight(server, origin, "POST", "Authorization");
        assertEquals(200, r.statusCode(), origin + ": " + r.body());
        assertEquals(origin, allowOrigin(r).orElseThrow());
        HttpResponse<String> models = send(server, "GET", "/v1/models", null, "Origin", origin);
        assertEquals(origin, allowOrigin(models).orElseThrow());
      }
    }

    @Test
    void aPreflightOfAnotherOriginMethodOrHeaderIsRefusedNamingIt() throws Exception {
      HttpResponse<String> origin = preflight(server, "http://evil.example", "POST", "Authorization");
      assertEquals(400, origin.statusCode());
      assertEquals("CORS preflight refused: origin 'http://evil.example' is not allowed (tandem.http.allowed-origins: ["
          + PAGE + ", null, http://upper.example])", message(origin));
      assertFalse(allowOrigin(origin).isPresent());
      HttpResponse<String> method = preflight(server, PAGE, "DELETE", "Authorization");
      assertEquals(400, method.statusCode());
      assertEquals("CORS preflight refused: method 'DELETE' is not allowed (tandem.http.allowed-methods: [GET, POST])",
          message(method));
      HttpResponse<String> header = preflight(server, PAGE, "POST", "Authorization, X-Secret");
      assertEquals(400, header.statusCode());
      assertEquals("CORS preflight refused: header 'x-secret' is not allowed (tandem.http.allowed-headers: [authorization])",
          message(header));
      HttpResponse<String> all = preflight(server, "http://evil.example", "DELETE", "X-Secret, X-Other");
      assertEquals("CORS preflight refused: origin 'http://evil.example' is not allowed (tandem.http.allowed-origins: ["
          + PAGE + ", null, http://upper.example]); method 'DELETE' is not allowed (tandem.http.allowed-methods: [GET, POST]);"
          + " headers [x-secret, x-other] are not allowed (tandem.http.allowed-headers: [authorization])", message(all));

      HttpResponse<String> other = send(server, "GET", "/v1/models", null, "Origin", "http://evil.example");
      assertFalse(allowOrigin(other).isPresent(), "the browser keeps the answer from that page");
      assertFalse(exposed(other).isPresent(), other.headers().toString());
    }

    /** The answer would have to name the page's origin, which is not known before the request is parsed. */
    @Test
    void aRequestTheServerCannotParseNamesNoOrigin() throws Exception {
      RawExchange r = unparsable(server);
      assertFalse(r.header("Access-Control-Allow-Origin").isPresent(), r.head());
      assertFalse(r.header("Access-Control-Expose-Headers").isPresent(), r.head());
    }
  }

  /**
   * Every origin, with credentials: a parsed request's own origin is named beside the credentials,
   * as browsers require; an unparsed one's is unknown, so its answer allows every origin without
   * credentials, never {@code *} beside {@code Access-Control-Allow-Credentials: true}.
   */
  @Nested
  class AnyOriginWithCredentials {
    @RegisterExtension
    static final TestServer server = TestServer.start("tandem.http.allow-credentials = true\n");

    @Test
    void aRequestTheServerCannotParseAllowsEveryOriginWithoutCredentials() throws Exception {
      RawExchange r = unparsable(server);
      assertEquals(Optional.of("*"), r.header("Access-Control-Allow-Origin"), r.head());
      assertEquals(Optional.empty(), r.header("Access-Control-Allow-Credentials"), r.head());
      HttpResponse<String> models = send(server, "GET", "/v1/models", null, "Origin", PAGE);
      assertEquals(PAGE, allowOrigin(models).orElseThrow(), "a parsed request's own origin is named, as credentials need");
      assertEquals("true", models.headers().firstValue("Access-Control-Allow-Credentials").orElseThrow());
    }

    /** Only an origin a browser could send is named back beside the credentials, never {@code *} or a list. */
    @Test
    void anOriginNoBrowserSendsIsNotNamedBack() throws Exception {
      for (String origin : List.of("*", "http://a.example, http://b.example", "http://a.example/path", "javascript:alert(1)",
          "http://a.example:99999", "http://a.example:80")) {
        HttpResponse<String> models = send(server, "GET", "/v1/models", null, "Origin", origin);
        assertEquals(200, models.statusCode(), models.body());
        assertEquals(Optional.empty(), allowOrigin(models), origin + ": " + models.headers());
        assertEquals(Optional.empty(), models.headers().firstValue("Access-Control-Allow-Credentials"), origin);
        assertEquals(Optional.of("Origin"), models.headers().firstValue("Vary"), origin + ": " + models.headers());
        HttpResponse<String> pre = preflight(server, origin, "POST", "Authorization");
        assertEquals(400, pre.statusCode(), origin + ": " + pre.body());
        assertTrue(message(pre).endsWith("an origin is null or scheme://host[:port] as a browser sends it"), message(pre));
      }
      assertEquals("null", allowOrigin(send(server, "GET", "/v1/models", null, "Origin", "null")).orElseThrow());
    }

    /**
     * A browser sends one {@code Origin} at most (Fetch standard); two are read as RFC 9110 combines
     * repeated fields, one comma-joined list, and refused as one: neither is named back.
     */
    @Test
    void twoOriginHeadersAreRefusedAsTheListTheyMakeNotTakenForTheFirst() throws Exception {
      String origins = "Origin: " + PAGE + "\r\nOrigin: http://b.example\r\n";
      RawExchange models = RawExchange.send(server, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n" + origins
          + "Connection: close\r\n\r\n");
      assertEquals(200, models.status(), models.head() + models.body());
      assertEquals(Optional.empty(), models.header("Access-Control-Allow-Origin"), models.head());
      assertEquals(Optional.empty(), models.header("Access-Control-Allow-Credentials"), models.head());
      assertEquals(Optional.of("Origin"), models.header("Vary"), models.head());
      RawExchange pre = RawExchange.send(server, "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + origins
          + "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
      assertEquals(400, pre.status(), pre.head() + pre.body());
      assertEquals(Optional.empty(), pre.header("Access-Control-Allow-Origin"), pre.head());
      assertTrue(pre.body().contains("origin '" + PAGE + ", http://b.example' is not allowed"), pre.body());
    }

    /** The answer depends on the origin, so even one to a request without it says so to caches. */
    @Test
    void anAnswerToARequestWithoutOriginVariesByOrigin() throws Exception {
      HttpResponse<String> plain = send(server, "GET", "/health", null);
      assertEquals(Optional.of("Origin"), plain.headers().firstValue("Vary"), plain.headers().toString());
      assertFalse(allowOrigin(plain).isPresent());
    }
  }

  /**
   * akka-http's own request timeout, its last resort, answers past the routes: the page still reads
   * it. Here a worker held in a short decode step, which it runs on the actor's own thread
   * ({@code ModelWorker.INLINE_PASS_NANOS}), cannot give its figures to {@code /metrics} before the request timeout (3 s,
   * below worker-figures-timeout).
   */
  @Nested
  class AtTheRequestTimeout {
    @RegisterExtension
    static final TestServer server = TestServer.start("tandem.session.worker-wait = 1s\ntandem.session.step-timeout = 1s\n"
        + "tandem.http.request-timeout = 3s\ntandem.http.worker-figures-timeout = 60s\n");

    @Test
    void theTimeoutsAnswerNamesTheAllowedOrigin() throws Exception {
      server.gate.close();
      server.gate.allow(1);
      try {
        CompletableFuture<HttpResponse<String>> held = CompletableFuture.supplyAsync(() -> {
          try {
            return send(server, "POST", "/v1/chat/completions", CHAT, "Content-Type", "application/json");
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        // The prefill passes; the decode step after it is held on the worker's thread.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.gate.held() == 0) {
          assertTrue(System.nanoTime() < deadline, "no model step reached the gate");
          Thread.sleep(5);
        }
        HttpResponse<String> metrics = send(server, "GET", "/metrics", null, "Origin", PAGE);
        assertEquals(504, metrics.statusCode(), metrics.body());
        assertTrue(metrics.body().contains("tandem.http.request-timeout"), metrics.body());
        assertEquals(Optional.of("*"), allowOrigin(metrics), metrics.headers().toString());
        server.gate.open();
        held.get(30, TimeUnit.SECONDS);
      } finally {
        server.gate.open();
      }
    }
  }

  @Test
  void anOriginWithAPathOrAnUnknownMethodIsRefusedAtStartNamingTheKey() {
    IllegalArgumentException origin = assertThrows(IllegalArgumentException.class, () -> HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.allowed-origins = [\"http://localhost:3000/\"]").withFallback(ConfigFactory.load())));
    assertTrue(origin.getMessage().startsWith("tandem.http.allowed-origins has 'http://localhost:3000/'"), origin.getMessage());
    IllegalArgumentException method = assertThrows(IllegalArgumentException.class, () -> HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.allowed-methods = [FETCH]").withFallback(ConfigFactory.load())));
    assertTrue(method.getMessage().startsWith("tandem.http.allowed-methods has 'FETCH'"), method.getMessage());
  }

  /**
   * Origins are kept as a browser serialises them (scheme and host in lower case, no default
   * port), and what no browser sends is refused at start, naming the key: a port out of range, a
   * wildcard (Starlette matches patterns only with a regex setting of its own); so is a header
   * name that is not an HTTP token.
   */
  @Test
  void originsAreKeptAsBrowsersSendThemAndWhatNoBrowserSendsIsRefusedNamingTheKey() {
    assertEquals(List.of("null", "http://upper.example", "https://app.example", "https://app.example:8443",
        "http://[::1]:3000", "*"), Cors.origins("k", List.of("NULL", "HTTP://UPPER.EXAMPLE:80", "https://App.Example:443",
        "https://app.example:8443", "http://[::1]:3000", "*")));
    Map<String, String> refused = new LinkedHashMap<>();
    refused.put("allowed-origins = [\"http://a.b:99999\"]", "tandem.http.allowed-origins has 'http://a.b:99999'; a port is from 1 to 65535");
    refused.put("allowed-origins = [\"http://a.b:0\"]", "tandem.http.allowed-origins has 'http://a.b:0'; a port is from 1 to 65535");
    refused.put("allowed-origins = [\"http://*.example.com\"]", "tandem.http.allowed-origins has 'http://*.example.com'; a wildcard"
        + " matches no origin here (a browser sends one exact origin): list each origin, or give \"*\" for all");
    refused.put("allowed-origins = [\"http://user@a.b\"]", "tandem.http.allowed-origins has 'http://user@a.b'; an origin is \"*\","
        + " \"null\" or scheme://host[:port] as a browser sends it, e.g. \"http://localhost:3000\" (no path, no trailing slash)");
    String header = "; a header name is \"*\" or letters, digits and !#$%&'*+-.^_`|~ without spaces (RFC 9110 token), e.g."
        + " \"Authorization\"";
    refused.put("allowed-headers = [\"bad header\"]", "tandem.http.allowed-headers has 'bad header'" + header);
    refused.put("allowed-headers = [\"\"]", "tandem.http.allowed-headers has ''" + header);
    refused.put("allowed-headers = [\"X-Ok\", \"a:b\"]", "tandem.http.allowed-headers has 'a:b'" + header);
    refused.forEach((setting, message) -> {
      InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> HttpSettings.fromConfig(
          ConfigFactory.parseString("tandem.http." + setting).withFallback(ConfigFactory.load())), setting);
      assertEquals(message, e.getMessage(), setting);
    });
    assertEquals(List.of("x-request-id", "*"), Cors.headers("k", List.of("X-Request-Id", "*")));
  }
}
