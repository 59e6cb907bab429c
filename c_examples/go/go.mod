module workerpool.example/go

go 1.18
