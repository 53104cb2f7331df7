package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.objects.collections.PyList;
import com.hubspot.jinjava.objects.serialization.PyishObjectMapper;
import com.hubspot.jinjava.objects.serialization.PyishSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A Python tuple: a list that prints as Python writes a tuple, {@code ('k', 'v')}. {@code dict.items()} yields these,
 * so {@code {{ d.items()|list }}} prints {@code [('k', 'v')]} as in Jinja2 (Jinjava printed its map entries as
 * {@code fn:map_entry('k', 'v')}); {@code for k, v in d.items()} unpacks them as any list.
 */
public final class PyTuple extends PyList implements PyishSerializable {

  /** @param items the tuple's items, in order */
  public PyTuple(List<Object> items) {
    super(Collections.unmodifiableList(new ArrayList<>(items)));
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T extends Appendable & CharSequence> T appendPyishString(T out) throws java.io.IOException {
    out.append('(');
    for (int i = 0; i < size(); i++) {
      if (i > 0) out.append(", ");
      out.append(PyishObjectMapper.getAsPyishString(get(i)));
    }
    return (T) out.append(size() == 1 ? ",)" : ")");
  }
}
