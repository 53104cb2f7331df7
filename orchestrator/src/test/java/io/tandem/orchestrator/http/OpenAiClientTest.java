package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java client, pointed at Tandem over loopback, works as it does with OpenAI. */
class OpenAiClientTest {
  static TestServer server;
  static OpenAIClient client;

  @BeforeAll
  static void start() {
    server = TestServer.start("tandem.http.api-keys = [{key = \"sk-test-alice\", tenant = alice}]\n");
    client = OpenAIOkHttpClient.builder().baseUrl(server.base + "/v1").apiKey("sk-test-alice")
        .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static ChatCompletionCreateParams.Builder question() {
    return ChatCompletionCreateParams.builder().model("tandem").addUserMessage("What is 1 + 2?").maxCompletionTokens(120);
  }

  @Test
  void aChatCompletionAnswersWithTextUsageAndTandemsAccount() {
    ChatCompletion c = client.chat().completions().create(question().build());
    String text = c.choices().get(0).message().content().orElse("");
    assertTrue(text.startsWith("Let me verify"), text);
    assertEquals("tandem", c.model());
    assertTrue(c.id().startsWith("chatcmpl-"));
    assertEquals(120, c.usage().get().completionTokens());
    assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, c.choices().get(0).finishReason());
    Map<String, ?> tandem = asMap(c._additionalProperties().get("tandem"));
    Map<?, ?> counters = (Map<?, ?>) tandem.get("counters");
    assertTrue(((Number) ((Map<?, ?>) counters.get("tokens")).get("large")).intValue() > 0, "the large model took over: " + counters);
    assertFalse(((List<?>) tandem.get("spans")).isEmpty());
  }

  @Test
  void aStreamedCompletionArrivesChunkByChunkWithItsAuthorsAndUsage() {
    String whole = client.chat().completions().create(question().build()).choices().get(0).message().content().orElse("");
    StringBuilder streamed = new StringBuilder();
    Set<String> authors = new HashSet<>();
    int[] chunks = {0};
    long[] usage = {-1};
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(
        question().streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
      s.stream().forEach(chunk -> {
        chunks[0]++;
        chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
        if (chunk.choices().isEmpty()) return;
        chunk.choices().get(0).delta().content().ifPresent(streamed::append);
        JsonValue t = chunk._additionalProperties().get("tandem");
        Object author = t == null ? null : asMap(t).get("author");
        if (author != null) authors.add(author.toString());
      });
    }
    assertEquals(whole, streamed.toString(), "the stream adds up to the same answer");
    assertTrue(authors.containsAll(Set.of("small", "large")), "chunks name both models: " + authors);
    assertTrue(chunks[0] > 5, "many chunks, not one: " + chunks[0]);
    assertEquals(120, usage[0]);
  }

  @Test
  void aRawCompletionAndTheModelListWork() {
    Completion c = client.completions().create(CompletionCreateParams.builder()
        .model(CompletionCreateParams.Model.of("tandem")).prompt("Once").maxTokens(10).build());
    assertTrue(c.choices().get(0).text().startsWith("Let me verify"));
    List<Model> models = client.models().list().data();
    assertEquals("tandem", models.get(0).id());
  }

  @Test
  void errorsArriveAsTheClientsExceptionsWithClearMessages() {
    NotFoundException nf = assertThrows(NotFoundException.class,
        () -> client.chat().completions().create(question().model("gpt-4o").build()));
    assertTrue(nf.getMessage().contains("gpt-4o"), nf.getMessage());
    BadRequestException br = assertThrows(BadRequestException.class,
        () -> client.chat().completions().create(question().n(2).build()));
    assertTrue(br.getMessage().contains("n = 2 is not supported"), br.getMessage());
    OpenAIClient stranger = OpenAIOkHttpClient.builder().baseUrl(server.base + "/v1").apiKey("sk-wrong").maxRetries(0).build();
    assertThrows(UnauthorizedException.class, () -> stranger.chat().completions().create(question().build()));
  }

  @Test
  void aTwoTurnConversationSendsTheFirstAnswerBackUnchanged() {
    ChatCompletion first = client.chat().completions().create(question().maxCompletionTokens(8).build());
    ChatCompletion second = client.chat().completions().create(question().maxCompletionTokens(8)
        .addMessage(first.choices().get(0).message().toParam()).addUserMessage("Are you sure?").build());
    assertTrue(second.choices().get(0).message().content().orElse("").length() > 0);
    assertEquals(8, second.usage().get().completionTokens());
  }

  @Test
  void aStreamCutOffByMaxTokensEndsWithLengthAndItsUsage() {
    String[] finish = {null};
    long[] usage = {-1};
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(question().maxCompletionTokens(7)
        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
      s.stream().forEach(chunk -> {
        chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
        if (!chunk.choices().isEmpty())
          chunk.choices().get(0).finishReason().ifPresent(f -> finish[0] = f.asString());
      });
    }
    assertEquals("length", finish[0]);
    assertEquals(7, usage[0]);
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> asMap(JsonValue v) {
    return (Map<String, Object>) v.convert(Map.class);
  }
}
