"""What leaves the network: the privacy policy (``policy``), its pseudonyms (``pseudonyms``), the
field catalog the presets read (``catalog``) and the path syntax they share (``paths``); beyond the
catalog, people and URLs anywhere and the fields no spec declares (``beyond``, ``known``)."""
