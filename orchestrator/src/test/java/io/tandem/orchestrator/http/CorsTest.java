package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
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

  static Optional<String> allowOrigin(HttpResponse<?> r) {
    return r.headers().firstValue("Access-Control-Allow-Origin");
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
          "Authorization", "Bearer sk-web");
      assertEquals(400, bad.statusCode(), bad.body());
      assertEquals("*", allowOrigin(bad).orElseThrow());

      HttpResponse<String> wrongMethod = send(server, "GET", "/v1/chat/completions", null, "Origin", PAGE);
      assertEquals(405, wrongMethod.statusCode(), wrongMethod.body());
      assertEquals("*", allowOrigin(wrongMethod).orElseThrow());
    }

    @Test
    void aRequestWithoutOriginAndAnOptionsThatIsNoPreflightAreAnsweredAsBefore() throws Exception {
      HttpResponse<String> plain = send(server, "GET", "/health", null);
      assertEquals(200, plain.statusCode());
      assertFalse(allowOrigin(plain).isPresent(), "not a cross-origin request");
      HttpResponse<String> options = send(server, "OPTIONS", "/v1/chat/completions", null);
      assertEquals(405, options.statusCode(), options.body());
    }
  }

  /** An operator who lists the origins and allows credentials. */
  @Nested
  class Restricted {
    @RegisterExtension
    static final TestServer server = TestServer.start("tandem.http.allowed-origins = [\"" + PAGE + "\"]\n"
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

    @Test
    void aPreflightOfAnotherOriginMethodOrHeaderIsRefusedNamingIt() throws Exception {
      HttpResponse<String> origin = preflight(server, "http://evil.example", "POST", "Authorization");
      assertEquals(400, origin.statusCode());
      assertTrue(origin.body().contains("origin 'http://evil.example'"), origin.body());
      assertFalse(allowOrigin(origin).isPresent());
      HttpResponse<String> method = preflight(server, PAGE, "DELETE", "Authorization");
      assertEquals(400, method.statusCode());
      assertTrue(method.body().contains("method 'DELETE'") && method.body().contains("tandem.http.allowed-methods"), method.body());
      HttpResponse<String> header = preflight(server, PAGE, "POST", "Authorization, X-Secret");
      assertEquals(400, header.statusCode());
      assertTrue(header.body().contains("headers [x-secret]"), header.body());

      HttpResponse<String> other = send(server, "GET", "/v1/models", null, "Origin", "http://evil.example");
      assertFalse(allowOrigin(other).isPresent(), "the browser keeps the answer from that page");
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
}
