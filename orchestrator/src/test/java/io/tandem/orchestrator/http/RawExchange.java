package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;

/**
 * One request as a client writing its own bytes sends it, on a connection of its own, and what the
 * server wrote back up to closing that connection: for requests an HTTP library would not send.
 *
 * @param status the answer's status code
 * @param head the status line and headers, without the blank line after them
 * @param body the rest, as UTF-8
 */
record RawExchange(int status, String head, String body) {
  /** How long a test waits for an answer: well past the tests' body-read-timeout, far below the idle timeout. */
  static final int ANSWER_DEADLINE_MS = 20_000;

  /**
   * Writes {@code raw} (ISO-8859-1, so that each char is one byte) and reads until the server closes.
   *
   * @throws AssertionError when the connection is still open {@link #ANSWER_DEADLINE_MS} later, or
   *     what came back is no HTTP answer
   */
  static RawExchange send(TestServer server, String raw) throws Exception {
    return send(server, raw, false);
  }

  /** As {@link #send(TestServer, String)}, half-closing the connection ({@code shutdownOutput}) after {@code raw} when {@code halfClose}. */
  static RawExchange send(TestServer server, String raw, boolean halfClose) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      socket.setSoTimeout(ANSWER_DEADLINE_MS);
      socket.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      if (halfClose) socket.shutdownOutput();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buf = new byte[4096];
      try {
        for (int n; (n = in.read(buf)) >= 0; ) out.write(buf, 0, n);
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the connection was still open " + ANSWER_DEADLINE_MS + " ms after "
            + raw.replace("\r\n", "\\r\\n") + ", with " + out.size() + " bytes of answer: " + out.toString(StandardCharsets.UTF_8));
      }
      String all = out.toString(StandardCharsets.UTF_8);
      int split = all.indexOf("\r\n\r\n");
      assertTrue(split > 0, "an HTTP answer: " + all);
      String head = all.substring(0, split);
      return new RawExchange(Integer.parseInt(head.split(" ")[1]), head, all.substring(split + 4));
    }
  }

  /** The value of the answer's header {@code name} (any case), if it has one. */
  Optional<String> header(String name) {
    String prefix = name.toLowerCase(Locale.ROOT) + ":";
    return head.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith(prefix))
        .map(l -> l.substring(prefix.length()).trim()).findFirst();
  }
}
