namespace batchinterop;

entity Authors {
  key ID    : Integer;
      name  : String(100);
      books : Association to many Books on books.author = $self;
}

entity Books {
  key ID     : Integer;
      title  : String(200);
      stock  : Integer;
      author : Association to Authors;
}
