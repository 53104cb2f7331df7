package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * {@code items}, Jinja2 3.1's filter: a dict's (key, value) pairs in its order, as {@code d.items()} gives them
 * ({@link PythonResolver}); none for an undefined value. Jinjava has no such filter, and a template's
 * {@code for name, fields in tool.parameters.properties|items} (Qwen3-Coder's, Hermes') iterated nothing: the
 * tools' parameters left the prompt without a word (tester60f).
 *
 * @throws IllegalArgumentException (as Jinja2's TypeError) for a value that is not a dict
 */
public final class PyItemsFilter implements Filter {

  @Override
  public String getName() {
    return "items";
  }

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
    if (var == null) return List.of();
    if (!(var instanceof Map<?, ?> map)) throw new IllegalArgumentException("Can only get item pairs from a mapping, got " + var);
    List<PyTuple> items = new ArrayList<>(map.size());
    for (Map.Entry<?, ?> e : map.entrySet()) items.add(new PyTuple(Arrays.asList(e.getKey(), e.getValue())));
    return items;
  }
}
