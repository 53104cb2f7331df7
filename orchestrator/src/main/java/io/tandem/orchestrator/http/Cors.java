package io.tandem.orchestrator.http;

import static akka.http.javadsl.server.Directives.complete;
import static akka.http.javadsl.server.Directives.extractRequest;
import static akka.http.javadsl.server.Directives.respondWithHeaders;

import akka.http.javadsl.model.HttpHeader;
import akka.http.javadsl.model.HttpMethod;
import akka.http.javadsl.model.HttpMethods;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.headers.AccessControlAllowCredentials;
import akka.http.javadsl.model.headers.AccessControlAllowHeaders;
import akka.http.javadsl.model.headers.AccessControlAllowMethods;
import akka.http.javadsl.model.headers.AccessControlAllowOrigin;
import akka.http.javadsl.model.headers.AccessControlExposeHeaders;
import akka.http.javadsl.model.headers.AccessControlMaxAge;
import akka.http.javadsl.model.headers.HttpOriginRanges;
import akka.http.javadsl.model.headers.RawHeader;
import akka.http.javadsl.server.Route;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cross-origin resource sharing, so that a web page on another origin (a browser client of the
 * OpenAI SDK, a chat front-end) may call the API: the settings and the rules of vLLM's server,
 * which passes {@code --allowed-origins}, {@code --allowed-methods}, {@code --allowed-headers} and
 * {@code --allow-credentials} (defaults {@code ["*"]}, {@code ["*"]}, {@code ["*"]}, false) to
 * Starlette's {@code CORSMiddleware}.
 *
 * <p>A preflight ({@code OPTIONS} with {@code Origin} and {@code Access-Control-Request-Method}) is
 * answered here, before any route and so without an API key (a browser sends none with it): 200
 * with the allowed methods and headers, or a 400 error object naming what is not allowed. Every
 * other answer to a request with an allowed {@code Origin}, error objects included, carries {@code
 * Access-Control-Allow-Origin}: {@code *} when every origin is allowed without credentials, else
 * the request's origin (with {@code Vary: Origin}), and {@code Access-Control-Expose-Headers} naming
 * the server's own headers a client reads ({@link #EXPOSED}). A request without {@code Origin} is not a
 * cross-origin one and is left as it is. A request akka-http cannot parse is answered before any
 * route, by {@link ParsingErrors}, which is not given the request: its answers carry what needs no
 * request ({@link #parsingErrors}).
 *
 * @param allowedOrigins origins as browsers send them ({@code https://app.example:8443}), or {@code *}
 * @param allowedMethods HTTP methods, or {@code *} for all
 * @param allowedHeaders request header names (any case), or {@code *} for all; the CORS-safelisted
 *     ones (Accept, Accept-Language, Content-Language, Content-Type) are always allowed
 * @param allowCredentials whether the page may send cookies or HTTP authentication with its requests
 */
public record Cors(List<String> allowedOrigins, List<String> allowedMethods, List<String> allowedHeaders, boolean allowCredentials) {

  /** What Starlette allows for {@code *}, and what a preflight answer then lists. */
  private static final List<HttpMethod> ALL_METHODS = List.of(HttpMethods.DELETE, HttpMethods.GET, HttpMethods.HEAD,
      HttpMethods.OPTIONS, HttpMethods.PATCH, HttpMethods.POST, HttpMethods.PUT);
  private static final Set<String> SAFELISTED_HEADERS = Set.of("accept", "accept-language", "content-language", "content-type");
  /**
   * An origin, once in lower case: a scheme (RFC 3986), then a host (a name, IPv4 address, or IPv6
   * address in brackets; browsers write names in ASCII, punycode for others), then perhaps a port.
   */
  private static final Pattern ORIGIN = Pattern.compile("([a-z][a-z0-9+.-]*)://(\\[[0-9a-f:.]+]|[a-z0-9._~-]+)(?::([0-9]+))?");
  /** The ports a browser leaves out of an origin it serialises (WHATWG URL standard, "default port"). */
  private static final Map<String, Integer> DEFAULT_PORTS = Map.of("http", 80, "https", 443);
  /** An HTTP token (RFC 9110, section 5.6.2): one or more {@code tchar}. */
  private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
  /** How long a browser may keep a preflight's answer, in seconds (Starlette's {@code max_age}). */
  private static final long MAX_AGE_SECONDS = 600;
  private static final HttpHeader ANY_ORIGIN = AccessControlAllowOrigin.create(HttpOriginRanges.ALL);
  private static final HttpHeader VARY_ORIGIN = RawHeader.create("Vary", "Origin");
  /**
   * The server's own answer headers that a client reads, which a page's script sees only when they
   * are exposed, not being "CORS-safelisted response-header names" (Fetch standard; Starlette's
   * {@code expose_headers}): the request's id, and the retry advice the OpenAI SDKs follow. Not on
   * a preflight, whose headers no script reads.
   */
  private static final HttpHeader EXPOSED = AccessControlExposeHeaders.create(ApiRoutes.REQUEST_ID, ApiError.RETRY_AFTER,
      ApiError.RETRY_AFTER_MS, ApiError.SHOULD_RETRY);

  /**
   * @throws IllegalArgumentException naming the {@code tandem.http} key and the value refused by
   *     {@link #origins}, {@link #methods} or {@link #headers}
   */
  public Cors {
    allowedOrigins = origins("tandem.http.allowed-origins", allowedOrigins);
    allowedMethods = methods("tandem.http.allowed-methods", allowedMethods);
    allowedHeaders = headers("tandem.http.allowed-headers", allowedHeaders);
  }

  /**
   * {@code origins} as a browser serialises them in its {@code Origin} header (the WHATWG URL
   * standard's ASCII serialisation of an origin): each {@code *}, {@code null} (what a page of a
   * {@code file:} URL or a sandboxed iframe sends), or {@code scheme://host[:port]}, its scheme and
   * host in lower case and its port dropped when it is the scheme's default (80 for http, 443 for
   * https), so that {@code HTTP://App.Example:80} matches the {@code http://app.example} a browser sends.
   *
   * @param givenBy the setting or flag that gave them, as the message names it
   * @throws IllegalArgumentException in one line naming {@code givenBy} and the origin: one that is
   *     not of that form ({@code GIVEN_BY has 'ORIGIN'; an origin is "*", "null" or scheme://host[:port] ...}),
   *     a port out of 1 to 65535, a wildcard within a host (a browser sends one exact origin)
   */
  public static List<String> origins(String givenBy, List<String> origins) {
    List<String> out = new ArrayList<>();
    for (String given : origins) {
      String o = given.toLowerCase(Locale.ROOT);
      if (o.equals("*") || o.equals("null")) {
        out.add(o);
        continue;
      }
      String refused = givenBy + " has '" + given + "'; ";
      if (o.contains("*"))
        throw new IllegalArgumentException(refused + "a wildcard matches no origin here (a browser sends one exact origin):"
            + " list each origin, or give \"*\" for all");
      Matcher m = ORIGIN.matcher(o);
      if (!m.matches())
        throw new IllegalArgumentException(refused + "an origin is \"*\", \"null\" or scheme://host[:port] as a browser"
            + " sends it, e.g. \"http://localhost:3000\" (no path, no trailing slash)");
      String origin = m.group(1) + "://" + m.group(2);
      if (m.group(3) != null) {
        int port = m.group(3).length() > 5 ? -1 : Integer.parseInt(m.group(3));
        if (port < 1 || port > 65535)
          throw new IllegalArgumentException(refused + "a port is from 1 to 65535");
        if (port != DEFAULT_PORTS.getOrDefault(m.group(1), -1)) origin += ":" + port;
      }
      out.add(origin);
    }
    return List.copyOf(out);
  }

  /**
   * {@code methods} in upper case, each {@code *} or a method of {@link #ALL_METHODS}.
   *
   * @param givenBy the setting or flag that gave them, as the message names it
   * @throws IllegalArgumentException {@code GIVEN_BY has 'METHOD'; it must be "*" or among [DELETE, ...]}
   */
  public static List<String> methods(String givenBy, List<String> methods) {
    List<String> upper = methods.stream().map(m -> m.toUpperCase(Locale.ROOT)).toList();
    for (String m : upper) {
      if (!m.equals("*") && ALL_METHODS.stream().noneMatch(x -> x.name().equals(m)))
        throw new IllegalArgumentException(givenBy + " has '" + m + "'; it must be \"*\" or among "
            + ALL_METHODS.stream().map(HttpMethod::name).toList());
    }
    return upper;
  }

  /**
   * {@code headers} in lower case, each {@code *} or a header name: an HTTP token (RFC 9110, section
   * 5.1: one or more {@code tchar}), which is all a browser's {@code Access-Control-Request-Headers} may list.
   *
   * @param givenBy the setting or flag that gave them, as the message names it
   * @throws IllegalArgumentException {@code GIVEN_BY has 'HEADER'; a header name is "*" or ...}
   */
  public static List<String> headers(String givenBy, List<String> headers) {
    for (String h : headers) {
      if (!h.equals("*") && !TOKEN.matcher(h).matches())
        throw new IllegalArgumentException(givenBy + " has '" + h + "'; a header name is \"*\" or letters, digits and"
            + " !#$%&'*+-.^_`|~ without spaces (RFC 9110 token), e.g. \"Authorization\"");
    }
    return headers.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
  }

  /** The settings under {@code tandem.http} (the section itself). */
  static Cors fromSection(Config c) {
    return new Cors(c.getStringList("allowed-origins"), c.getStringList("allowed-methods"),
        c.getStringList("allowed-headers"), c.getBoolean("allow-credentials"));
  }

  /**
   * The {@link ParsingErrors} that answers requests akka-http cannot parse, with the CORS headers
   * an answer may carry without its request (akka-http 10.5 gives that handler none, and may not
   * have read the request's headers). With {@code *} among the origins, {@link #anyOrigin}: a page
   * reads the answer to a request it sent without credentials. Never {@code
   * Access-Control-Allow-Credentials}, even with {@code allow-credentials}: the routes allow
   * credentials only beside the request's own origin named, as browsers require (Fetch standard,
   * CORS check), and that origin is unknown here. With listed origins, none: the header must name
   * the request's own origin (a list is no valid value, and naming one origin to another page's
   * request allows nothing), so a page sees a CORS failure instead of the 400, as it would from
   * Starlette, which sends nothing to a request without an {@code Origin} it can check.
   */
  Class<? extends ParsingErrors> parsingErrors() {
    return allowedOrigins.contains("*") ? ParsingErrors.AnyOrigin.class : ParsingErrors.class;
  }

  /** The CORS headers of an answer that any origin's page may read: {@code Access-Control-Allow-Origin: *} and {@link #EXPOSED}. */
  static List<HttpHeader> anyOrigin() {
    return List.of(ANY_ORIGIN, EXPOSED);
  }

  /** Whether a page of any web site may call the API and read its answers (vLLM's default, {@code *}). */
  boolean allowsAnyOrigin() {
    return allowedOrigins.contains("*");
  }

  /**
   * Whether every origin may send credentials: a page of any web site may then call with its
   * visitors' cookies or HTTP authentication and read the answers, which the operator is warned of.
   */
  boolean credentialsFromAnyOrigin() {
    return allowCredentials && allowedOrigins.contains("*");
  }

  /** {@code inner}, with preflights answered and the CORS headers on its answers to allowed origins. */
  Route wrap(Route inner) {
    return extractRequest(request -> {
      Optional<String> origin = origin(request);
      if (origin.isEmpty()) return variesByOrigin() ? respondWithHeaders(List.of(VARY_ORIGIN), () -> inner) : inner;
      Optional<String> method = header(request, "Access-Control-Request-Method");
      if (request.method().equals(HttpMethods.OPTIONS) && method.isPresent())
        return preflight(origin.get(), method.get(), header(request, "Access-Control-Request-Headers"));
      List<HttpHeader> headers = answerHeaders(request);
      // A refused origin's answer varies by origin too: a cache must not give it to an allowed one.
      if (headers.isEmpty() && variesByOrigin()) headers = List.of(VARY_ORIGIN);
      return respondWithHeaders(headers, () -> inner);
    });
  }

  /**
   * The CORS headers of an answer to {@code request} (not a preflight): none for a request without
   * an allowed {@code Origin}. For an answer made outside the routes that still has its request
   * (akka-http's request timeout), as {@link #wrap} adds them to the routes' own.
   */
  List<HttpHeader> answerHeaders(HttpRequest request) {
    return origin(request).filter(this::originAllowed).map(origin -> {
      List<HttpHeader> out = new ArrayList<>(originHeaders(origin));
      out.add(EXPOSED);
      return out;
    }).orElse(List.of());
  }

  private Route preflight(String origin, String method, Optional<String> requestedHeaders) {
    List<String> refused = new ArrayList<>();
    if (!originAllowed(origin))
      refused.add("origin '" + CompletionRequest.clip(origin) + "' is not allowed (tandem.http.allowed-origins: " + allowedOrigins + ")"
          + (isSerialisedOrigin(origin) ? "" : "; an origin is null or scheme://host[:port] as a browser sends it"));
    if (!allowedMethods.contains("*") && !allowedMethods.contains(method.toUpperCase(Locale.ROOT)))
      refused.add("method '" + CompletionRequest.clip(method) + "' is not allowed (tandem.http.allowed-methods: " + allowedMethods + ")");
    List<String> asked = requestedHeaders.map(h -> List.of(h.split(","))).orElse(List.of()).stream()
        .map(h -> h.trim().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty()).toList();
    if (!allowedHeaders.contains("*")) {
      List<String> notAllowed = asked.stream().filter(h -> !allowedHeaders.contains(h) && !SAFELISTED_HEADERS.contains(h)).toList();
      if (!notAllowed.isEmpty())
        refused.add((notAllowed.size() == 1 ? "header '" + CompletionRequest.clip(notAllowed.get(0)) + "' is"
            : "headers " + CompletionRequest.clip(notAllowed.toString()) + " are") + " not allowed (tandem.http.allowed-headers: "
            + allowedHeaders + ")");
    }
    if (!refused.isEmpty())
      return complete(ApiError.invalid(null, "CORS preflight refused: " + String.join("; ", refused)).toResponse());
    List<HttpHeader> headers = new ArrayList<>(originHeaders(origin));
    headers.add(AccessControlAllowMethods.create(allowedMethods.contains("*") ? ALL_METHODS.toArray(HttpMethod[]::new)
        : ALL_METHODS.stream().filter(m -> allowedMethods.contains(m.name())).toArray(HttpMethod[]::new)));
    List<String> allowHeaders = allowedHeaders.contains("*") ? asked : allowedHeaders;
    if (!allowHeaders.isEmpty()) headers.add(AccessControlAllowHeaders.create(allowHeaders.toArray(String[]::new)));
    headers.add(AccessControlMaxAge.create(MAX_AGE_SECONDS));
    return complete(akka.http.javadsl.model.HttpResponse.create().withStatus(200).addHeaders(headers));
  }

  /**
   * Whether {@code origin}, as the request's {@code Origin} header gave it, is allowed: one a browser
   * could send ({@link #isSerialisedOrigin}) that is listed, or any such with {@code *}; so that a
   * value no browser sends ({@code *}, a list, a path) is never named back beside credentials.
   */
  private boolean originAllowed(String origin) {
    return isSerialisedOrigin(origin) && (allowedOrigins.contains("*") || allowedOrigins.contains(origin));
  }

  /**
   * Whether {@code origin} is an origin as browsers serialise it in {@code Origin} (the WHATWG URL
   * standard): {@code null}, or {@code scheme://host[:port]} in lower case ASCII with a port from 1
   * to 65535 that is not the scheme's default.
   */
  static boolean isSerialisedOrigin(String origin) {
    if (origin.equals("null")) return true;
    Matcher m = ORIGIN.matcher(origin);
    if (!m.matches()) return false;
    if (m.group(3) == null) return true;
    int port = m.group(3).length() > 5 || m.group(3).startsWith("0") ? -1 : Integer.parseInt(m.group(3));
    return port >= 1 && port <= 65535 && port != DEFAULT_PORTS.getOrDefault(m.group(1), -1);
  }

  /**
   * {@code *} when any origin may call without credentials (the answer is then the same for all, and
   * a cache may share it); else the origin itself, which a browser requires beside credentials.
   */
  private List<HttpHeader> originHeaders(String origin) {
    if (!variesByOrigin()) return List.of(ANY_ORIGIN);
    List<HttpHeader> out = new ArrayList<>();
    out.add(RawHeader.create("Access-Control-Allow-Origin", origin));
    out.add(VARY_ORIGIN);
    if (allowCredentials) out.add(AccessControlAllowCredentials.create(true));
    return out;
  }

  /**
   * Whether answers differ by the request's {@code Origin} (all but {@code *} without credentials):
   * then every answer, one to a request without {@code Origin} too, says {@code Vary: Origin}, so that
   * a cache does not hand one page's answer to another (Fetch standard, "CORS protocol and HTTP caches").
   */
  private boolean variesByOrigin() {
    return !(allowedOrigins.contains("*") && !allowCredentials);
  }

  /**
   * The request's {@code Origin}: its fields joined as RFC 9110 (section 5.3) combines a repeated
   * field, so that two {@code Origin} headers, which no browser sends (the Fetch standard sends one
   * origin at most), read as the comma-joined list they make, which is no origin and is refused,
   * instead of being taken for the first.
   */
  private static Optional<String> origin(HttpRequest request) {
    List<String> fields = new ArrayList<>();
    for (HttpHeader h : request.getHeaders()) if (h.is("origin")) fields.add(h.value());
    return fields.isEmpty() ? Optional.empty() : Optional.of(String.join(", ", fields));
  }

  private static Optional<String> header(HttpRequest request, String name) {
    return request.getHeader(name).map(HttpHeader::value);
  }
}
