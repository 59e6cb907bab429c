module workerpool.example/workerpool

go 1.19
